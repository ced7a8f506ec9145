"""Every path on a non-local filesystem: data, training, checkpoints, resume, eval, stripping.

TensorFlow's in-memory `ram://` filesystem stands in for `gs://`: both are reached only through
`tf.io.gfile` and TensorFlow's C++ file system layer, so a path handled with `open()` or `os.path`
fails here as it would on a bucket. (A GCS emulator would need the name `www.googleapis.com`
resolved to loopback and TLS, which TensorFlow's built-in GCS client can't be pointed past.)
The flow runs in its own process (`tests/scripts/remote_filesystem_flow.py`), with an audit hook
that fails on any local write and an empty working directory that must stay empty.
"""

import json
import os
import subprocess
import sys

import pytest

from tests import helpers

_OUT = "ram://bucket/out"
_METRICS = ("loss", "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy",
            "next_sentence_loss")


@pytest.mark.slow
def test_whole_job_on_ram_filesystem_touches_no_local_disk(tmp_path):
  cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
  cwd.mkdir()
  tmp.mkdir()
  env = dict(os.environ, TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
  result = subprocess.run(
      [sys.executable, os.path.join(helpers.SCRIPTS, "remote_filesystem_flow.py"), helpers.REPO],
      cwd=str(cwd), env=env, capture_output=True, text=True)
  lines = [line for line in result.stdout.splitlines() if line.startswith("REMOTE_OK ")]
  assert result.returncode == 0 and lines, result.stderr[-4000:]
  summary = json.loads(lines[0][len("REMOTE_OK "):])

  # Nothing on the local disk: no Python-level write, nothing in the working directory (where a
  # URL mangled into a relative path would land), only autograph's generated code in TMPDIR.
  assert summary["violations"] == []
  assert os.listdir(str(cwd)) == []
  assert all(name.startswith("__autograph_generated_file") for name in os.listdir(str(tmp)))

  assert summary["examples"] > 0
  assert summary["data"] == ["train-0.tfrecord", "train-1.tfrecord"]
  # A checkpoint every step to 4, then resumed to 7: the newest five kept, the rest deleted.
  assert summary["after_first"] == _OUT + "/model.ckpt-4"
  assert "Resuming from %s/model.ckpt-4" % _OUT in result.stderr
  assert summary["kept"] == ["%s/model.ckpt-%d" % (_OUT, step) for step in range(3, 8)]
  checkpoint_files = sorted(n for n in summary["out_files"] if n.startswith("model.ckpt-"))
  assert checkpoint_files == sorted("model.ckpt-%d.%s" % (step, suffix) for step in range(3, 8)
                                    for suffix in ("index", "data-00000-of-00001"))
  assert not [n for n in summary["out_files"] if ".tmp-" in n or ".incomplete-" in n]
  assert "checkpoint" in summary["out_files"]
  assert summary["eval_results"]["global_step"] == "7"
  assert summary["eval_only_results"]  # --init_checkpoint=<a directory on ram://>
  assert "bert/embeddings/word_embeddings" in summary["release"]
  assert not [n for n in summary["release"] if n.endswith(("adam_m", "adam_v"))]

  # TensorBoard: training curves in output_dir, eval metrics in output_dir/eval at their step.
  assert {"total_loss", "masked_lm_loss", "next_sentence_loss", "learning_rate",
          "examples_per_sec"} <= set(summary["train_scalars"])
  assert summary["total_loss_steps"] == list(range(1, 8))
  assert sorted(summary["eval_scalars"]) == sorted(_METRICS)
  for name in _METRICS:
    [(step, value)] = summary["eval_scalars"][name]
    assert step == 7
    assert value == pytest.approx(float(summary["eval_results"][name]), rel=1e-6)
