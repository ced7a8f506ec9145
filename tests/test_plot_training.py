"""plot_training.py: a run's TensorBoard scalars -> one PNG; clear errors without events or
matplotlib. (tests/test_main_job.py plots the main job's real run.)"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests import helpers


def _plot(*flags, prelude=""):
  """Runs plot_training.py in a new process (after `prelude`, Python run first)."""
  script = os.path.join(helpers.REPO, "plot_training.py")
  launcher = ("%s\nimport runpy, sys\nsys.argv = sys.argv[1:]\n"
              "runpy.run_path(sys.argv[0], run_name='__main__')\n" % prelude)
  return subprocess.run([sys.executable, "-c", launcher, script] + list(flags),
                        capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=helpers.REPO))


def _write_run(output_dir, num_steps=100):
  """Event files as run_pretraining writes them (its own scalar writer), with an eval point."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bert_mlm.training import loop  # pylint: disable=g-import-not-at-top
  writer = tf.summary.create_file_writer(output_dir)
  steps = np.arange(1, num_steps + 1)
  with writer.as_default():
    for step in steps:
      masked = 7.0 * np.exp(-step / 30.0) + 2.0
      loop._scalar("masked_lm_loss", masked, step)  # pylint: disable=protected-access
      next_sentence = 0.7 * np.exp(-step / 20.0)
      loop._scalar("next_sentence_loss", next_sentence, step)  # pylint: disable=protected-access
      loop._scalar("total_loss", masked + next_sentence, step)  # pylint: disable=protected-access
      learning_rate = 1e-3 * min(step / 10.0, (num_steps - step) / 90.0)
      loop._scalar("learning_rate", learning_rate, step)  # pylint: disable=protected-access
  writer.close()
  loop.write_eval_summaries(output_dir, dict(
      global_step=num_steps, loss=2.4, masked_lm_loss=2.3, masked_lm_accuracy=0.6,
      next_sentence_loss=0.1, next_sentence_accuracy=0.95))


@pytest.mark.slow
def test_plot_of_a_run(tmp_path):
  run = str(tmp_path / "run")
  _write_run(run)
  result = _plot("--output_dir=" + run)
  assert result.returncode == 0, result.stderr[-3000:]
  pixels = helpers.check_png(os.path.join(run, "training_curves.png"))
  # The eval points are drawn in red (tab:red, #d62728).
  red = ((np.abs(pixels[..., 0] - 0xd6 / 255) < 0.05) & (np.abs(pixels[..., 1] - 0x27 / 255) < 0.05)
         & (np.abs(pixels[..., 2] - 0x28 / 255) < 0.05))
  assert red.sum() > 20, red.sum()
  # --output_file elsewhere.
  result = _plot("--output_dir=" + run, "--output_file=" + str(tmp_path / "curves.png"),
                 "--title=a run")
  assert result.returncode == 0, result.stderr[-3000:]
  helpers.check_png(str(tmp_path / "curves.png"))


@pytest.mark.slow
def test_errors_are_one_clear_line(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  result = _plot("--output_dir=" + str(empty))
  assert result.returncode != 0 and "Traceback" not in result.stderr
  assert "holds no TensorBoard event files" in result.stderr.strip().splitlines()[-1]
  assert not os.listdir(str(empty))
  # Without matplotlib (an import that fails as on a machine where it is not installed).
  run = str(tmp_path / "run")
  _write_run(run, num_steps=5)
  blocker = ("import sys\n"
             "class _NoMatplotlib:\n"
             "  def find_spec(self, name, path=None, target=None):\n"
             "    if name.split('.')[0] == 'matplotlib':\n"
             "      raise ImportError('No module named ' + repr(name))\n"
             "sys.meta_path.insert(0, _NoMatplotlib())\n")
  result = _plot("--output_dir=" + run, prelude=blocker)
  assert result.returncode != 0 and "Traceback" not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert "needs matplotlib" in last and "bert-mlm[plot]" in last, last
  assert not os.path.exists(os.path.join(run, "training_curves.png"))
