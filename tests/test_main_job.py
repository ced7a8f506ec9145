"""README's first command: the sample corpus -> TFRecords -> pretraining with eval, end to end."""

import os
import subprocess

import pytest

from tests import helpers


@pytest.mark.slow
def test_sample_pretraining_learns(tmp_path):
  result = subprocess.run(["bash", os.path.join(helpers.REPO, "sample_data", "pretrain_sample.sh"),
                           str(tmp_path / "sample")], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(str(tmp_path / "sample" / "pretraining" / "eval_results.txt")) as f:
    metrics = dict(line.split(" = ") for line in f.read().splitlines())
  assert int(metrics["global_step"]) == 3000
  # Chance is 1/1042 for the masked LM and 0.5 for the next sentence; always predicting the most
  # frequent token scores about 0.1. A model that learned the corpus does far better.
  assert float(metrics["masked_lm_accuracy"]) > 0.3, metrics
  assert float(metrics["next_sentence_accuracy"]) > 0.85, metrics
  assert os.path.exists(str(tmp_path / "sample" / "pretraining" / "model.ckpt-3000.index"))
