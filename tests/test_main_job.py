"""README's first command: the sample corpus -> TFRecords -> pretraining with eval, end to end."""

import os
import re
import subprocess
import sys

import pytest

from tests import helpers


@pytest.mark.slow
def test_sample_pretraining_learns(tmp_path):
  result = subprocess.run(["bash", os.path.join(helpers.REPO, "sample_data",
                                                "pretrain_sample.sh"),
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
  # Progress at each loop of 250 steps: step N/M, percent, examples/s, time left and end time.
  progress = re.findall(r"step (\d+)/3000 \((\d+\.\d)%\): loss .* examples/s, "
                        r"(ETA \S+ \(ends \d\d:\d\d:\d\d.*\)|done)", result.stderr)
  assert [int(step) for step, _, _ in progress] == list(range(250, 3001, 250)), progress
  assert progress[0][1] == "8.3" and progress[-1][1:] == ("100.0", "done")
  assert all(eta.startswith("ETA") for _, _, eta in progress[:-1])
  # The run's curves from its TensorBoard event files (README shows this picture).
  plot = subprocess.run([sys.executable, os.path.join(helpers.REPO, "plot_training.py"),
                         "--output_dir=" + str(tmp_path / "sample" / "pretraining")],
                        capture_output=True, text=True)
  assert plot.returncode == 0, plot.stderr[-3000:]
  helpers.check_png(str(tmp_path / "sample" / "pretraining" / "training_curves.png"))
