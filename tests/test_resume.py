"""Preemption (SIGTERM) and exact resume: a run stopped at any step, then rerun, ends where the
uninterrupted run ends, step for step, single device and two workers."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import helpers

_SEQ, _PRED, _BATCH = 24, 4, 4
_STEPS, _PER_LOOP = 160, 40


def _flags(tmp_path, records, output_dir, config, extra=()):
  config_file = helpers.write_config(str(tmp_path / "config.json"), config)
  return helpers.pretraining_flags(
      config_file, [records], output_dir, _SEQ, _PRED, _BATCH, num_train_steps=_STEPS,
      num_warmup_steps=10, save_checkpoints_steps=_PER_LOOP, iterations_per_loop=_PER_LOOP,
      learning_rate="1e-3") + list(extra)


class _Run(object):
  """run_pretraining.py in a subprocess, its log in a file the test can watch."""

  def __init__(self, flags, log_path, env=None):
    self.log_path = log_path
    self._log = open(log_path, "w")
    self.process = subprocess.Popen(
        [sys.executable, os.path.join(helpers.REPO, "run_pretraining.py")] + flags,
        stdout=self._log, stderr=subprocess.STDOUT, env=env)

  def log(self):
    with open(self.log_path) as f:
      return f.read()

  def wait_for(self, text, timeout=300):
    deadline = time.time() + timeout
    while text not in self.log():
      assert self.process.poll() is None, self.log()[-3000:]
      assert time.time() < deadline, "no %r in the log" % text
      time.sleep(0.05)

  def finish(self, timeout=600):
    self.process.wait(timeout=timeout)
    self._log.close()
    return self.process.returncode


def _uninterrupted(tmp_path, records, config, extra=(), name="whole"):
  out = str(tmp_path / name)
  run = _Run(_flags(tmp_path, records, out, config, extra), str(tmp_path / (name + ".log")))
  assert run.finish() == 0, run.log()[-3000:]
  return out


def _assert_same_run(resumed_dir, whole_dir):
  """Per-step losses (all steps, from both sessions' summaries) and the final checkpoint."""
  for tag in ("total_loss", "masked_lm_loss", "next_sentence_loss", "learning_rate"):
    resumed, whole = (dict(helpers.read_scalars(d)[tag]) for d in (resumed_dir, whole_dir))
    assert sorted(resumed) == sorted(whole) == list(range(1, _STEPS + 1)), tag
    np.testing.assert_allclose([resumed[s] for s in sorted(resumed)],
                               [whole[s] for s in sorted(whole)], rtol=1e-6, atol=1e-7,
                               err_msg=tag)
  final = "model.ckpt-%d" % _STEPS
  resumed = helpers.read_checkpoint(os.path.join(resumed_dir, final))
  whole = helpers.read_checkpoint(os.path.join(whole_dir, final))
  assert resumed.keys() == whole.keys()
  for name in whole:
    np.testing.assert_allclose(resumed[name], whole[name], rtol=1e-6, atol=1e-7, err_msg=name)


_MODES = {
    # Records in file order, no dropout (the seed fixes the initial weights).
    "in_order": (dict(helpers.TRAIN_CONFIG), ["--train_shuffle=false", "--seed=3"]),
    # Shuffled files and records, dropout on: --seed fixes both, across the restart too.
    "shuffled_with_dropout": (dict(helpers.TRAIN_CONFIG, hidden_dropout_prob=0.1,
                                   attention_probs_dropout_prob=0.1), ["--seed=7"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(_MODES))
def test_sigterm_and_sigkill_then_rerun_equal_the_uninterrupted_run(tmp_path, mode):
  config, extra = _MODES[mode]
  records = helpers.write_records(
      str(tmp_path / "train.tfrecord"),
      [helpers.make_features(config, _BATCH, _SEQ, _PRED, seed=s) for s in range(6)])
  whole = _uninterrupted(tmp_path, records, config, extra)

  # SIGTERM during the second loop: the step in flight finishes, a checkpoint is written at
  # that step, the exit status says "preempted".
  out = str(tmp_path / "sigterm")
  flags = _flags(tmp_path, records, out, config, extra)
  run = _Run(flags, str(tmp_path / "sigterm-1.log"))
  run.wait_for("step %d/" % _PER_LOOP)
  time.sleep(0.2)
  run.process.send_signal(signal.SIGTERM)
  assert run.finish() == 75, run.log()[-3000:]
  log = run.log()
  assert "SIGTERM: finishing the step in flight" in log
  assert "run_pretraining.py: preempted: stopped at step" in log
  stopped = _stopped_at(log)
  assert _PER_LOOP <= stopped < _STEPS
  assert os.path.exists(os.path.join(out, "model.ckpt-%d.index" % stopped))
  assert "Traceback" not in log
  rerun = _Run(flags, str(tmp_path / "sigterm-2.log"))
  assert rerun.finish() == 0, rerun.log()[-3000:]
  assert "Resuming from %s" % os.path.join(out, "model.ckpt-%d" % stopped) in rerun.log()
  _assert_same_run(out, whole)

  # SIGKILL after a checkpoint: the rerun repeats the steps since, exactly.
  out = str(tmp_path / "sigkill")
  flags = _flags(tmp_path, records, out, config, extra)
  run = _Run(flags, str(tmp_path / "sigkill-1.log"))
  run.wait_for("Saved checkpoint %s" % os.path.join(out, "model.ckpt-%d" % (2 * _PER_LOOP)))
  run.process.kill()
  run.finish()
  rerun = _Run(flags, str(tmp_path / "sigkill-2.log"))
  assert rerun.finish() == 0, rerun.log()[-3000:]
  assert "Resuming from" in rerun.log()
  _assert_same_run(out, whole)


def _stopped_at(log):
  return int(re.search(r"preempted: stopped at step (\d+) \(", log).group(1))


def _free_ports(count):
  ports = []
  for _ in range(count):
    with socket.socket() as s:
      s.bind(("127.0.0.1", 0))
      ports.append(s.getsockname()[1])
  return ports


def _workers(tmp_path, flags, name):
  cluster = {"worker": ["127.0.0.1:%d" % p for p in _free_ports(2)]}
  runs = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": index}}))
    runs.append(_Run(flags + ["--distribution_strategy=multi_worker_mirrored"],
                     str(tmp_path / ("%s-worker%d.log" % (name, index))), env=env))
  return runs


@pytest.mark.slow
def test_two_workers_stop_at_the_same_step_and_resume_exactly(tmp_path):
  config = dict(helpers.TRAIN_CONFIG)
  records = helpers.write_records(
      str(tmp_path / "train.tfrecord"),
      [helpers.make_features(config, _BATCH, _SEQ, _PRED, seed=s) for s in range(6)])
  extra = ["--train_shuffle=false", "--seed=3"]
  whole = str(tmp_path / "whole")
  runs = _workers(tmp_path, _flags(tmp_path, records, whole, config, extra), "whole")
  for run in runs:
    assert run.finish() == 0, run.log()[-3000:]

  out = str(tmp_path / "sigterm")
  flags = _flags(tmp_path, records, out, config, extra)
  runs = _workers(tmp_path, flags, "sigterm")
  runs[0].wait_for("step %d/" % _PER_LOOP)
  time.sleep(0.2)
  runs[1].process.send_signal(signal.SIGTERM)  # the non-chief alone is signalled
  stopped = set()
  for run in runs:
    assert run.finish() == 75, run.log()[-3000:]
    stopped.add(_stopped_at(run.log()))
  assert len(stopped) == 1, stopped  # both workers stopped after the same step
  step = stopped.pop()
  assert os.path.exists(os.path.join(out, "model.ckpt-%d.index" % step))
  runs = _workers(tmp_path, flags, "rerun")
  for run in runs:
    assert run.finish() == 0, run.log()[-3000:]
  assert "Resuming from" in runs[0].log()
  _assert_same_run(out, whole)
