"""Faults that hit one worker of a multi-worker run, made for real with real worker processes.

Two run_pretraining.py workers (MultiWorkerMirroredStrategy over TF_CONFIG on loopback, one
replica each): one is killed (SIGKILL) or frozen (SIGSTOP: a machine gone silent), preempted
(SIGTERM), reads a corrupt copy of a shard, cannot write (RLIMIT_FSIZE on the chief), or was
started for another run. Every worker must stop, within a bound, with one line that says which
worker and why, and a rerun of every worker resumes and ends as the uninterrupted run.

No test can hang: every worker runs in its own process group, every wait has a deadline, and
`_Workers` kills what is left of the group on the way out, passed or failed. The measured time
from the fault to the last worker's exit is printed (`pytest -s`).
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from bert_mlm.storage import checkpoints
from bert_mlm.training import checkpoint_manager
from bert_mlm.storage import tfrecord
from tests import helpers

pytestmark = pytest.mark.slow

_CONFIG = helpers.TRAIN_CONFIG
_SEQ, _PRED, _BATCH = 24, 4, 4
_STEPS, _SAVE_EVERY = 120, 20
# Workers start, agree on the run and trace the training loop in about half a minute here when
# the machine is idle; four times that on a busy one.
_START_SECONDS = 240
# The longest a worker may take to stop after a fault elsewhere (see distribute's timeouts: a
# heartbeat of 10 s, a shutdown barrier of 10 s); what is measured is printed.
_STOP_BOUND_SECONDS = 60


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  try:
    for s in sockets:
      s.bind(("127.0.0.1", 0))
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def _flags(data, output_dir, input_file=None, config_file=None, **overrides):
  values = dict(bert_config_file=config_file or data["config"],
                input_file=input_file or data["records"], output_dir=str(output_dir),
                do_train=True, train_batch_size=_BATCH, max_seq_length=_SEQ,
                max_predictions_per_seq=_PRED, num_train_steps=_STEPS, num_warmup_steps=10,
                save_checkpoints_steps=_SAVE_EVERY, iterations_per_loop=10, learning_rate=1e-3,
                train_shuffle=False, seed=1, distribution_strategy="multi_worker_mirrored")
  values.update(overrides)
  return ["--%s=%s" % (name, value) for name, value in values.items()]


def _limit_file_size(limit):
  def preexec():
    # CPython ignores SIGXFSZ: writes past the limit fail with EFBIG, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
  return preexec


class _Workers(object):
  """Starts one run_pretraining.py per entry of `flags` (worker i gets flags[i]) as one cluster;
  a context manager that kills every process group it started on the way out."""

  def __init__(self, log_dir, flags, file_size_limits=None):
    self.count = len(flags)
    self.addresses = ["127.0.0.1:%d" % p for p in _free_ports(self.count)]
    launch = len([n for n in os.listdir(str(log_dir)) if n.endswith("-worker0.log")])
    self.logs = [os.path.join(str(log_dir), "run%d-worker%d.log" % (launch, i))
                 for i in range(self.count)]
    self.processes = []
    self.exited_at = {}
    limits = file_size_limits or {}
    for index in range(self.count):
      env = dict(os.environ, PYTHONPATH=helpers.REPO, TF_CONFIG=json.dumps(
          {"cluster": {"worker": self.addresses}, "task": {"type": "worker", "index": index}}))
      with open(self.logs[index], "w") as log:
        self.processes.append(subprocess.Popen(
            [sys.executable, os.path.join(helpers.REPO, "run_pretraining.py")] + flags[index],
            env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            preexec_fn=_limit_file_size(limits[index]) if index in limits else None))

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    for process in self.processes:
      if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
      process.wait()
    return False

  def wait_for(self, path, seconds=_START_SECONDS):
    """Waits until `path` exists while every worker runs."""
    deadline = time.time() + seconds
    while not os.path.exists(path):
      for index, process in enumerate(self.processes):
        assert process.poll() is None, "worker %d ended: %s" % (index, self.tail(index))
      assert time.time() < deadline, "no %s after %d s" % (path, seconds)
      time.sleep(0.02)

  def wait(self, seconds):
    """Every worker's exit status; fails when one still runs after `seconds`. Notes when each
    exited (`exited_at`), polling every 20 ms."""
    deadline = time.time() + seconds
    while any(p.poll() is None for p in self.processes):
      for index, process in enumerate(self.processes):
        if process.poll() is not None and index not in self.exited_at:
          self.exited_at[index] = time.time()
      if time.time() > deadline:
        running = [i for i, p in enumerate(self.processes) if p.poll() is None]
        pytest.fail("worker(s) %s still run after %d s: %s" % (
            running, seconds, self.tail(running[0])))
      time.sleep(0.02)
    for index in range(self.count):
      self.exited_at.setdefault(index, time.time())
    return [process.returncode for process in self.processes]

  def report_stop(self, fault, since=None):
    """Prints how long the last worker took to exit after `since` (default: the first exit)."""
    since = min(self.exited_at.values()) if since is None else since
    print("\n%s: every worker stopped %.1f s after %s" % (
        fault, max(self.exited_at.values()) - since,
        "the first exited" if since == min(self.exited_at.values()) else "the fault"))

  def log(self, index):
    with open(self.logs[index]) as f:
      return f.read()

  def tail(self, index):
    return self.log(index)[-3000:]

  def last_line(self, index):
    """The one line the script printed as it stopped (TensorFlow may log after it: a worker
    whose exit outlasts the chief's, where the coordination service runs, logs the lost
    connection)."""
    lines = [line for line in self.log(index).splitlines()
             if line.startswith("run_pretraining.py: ")]
    assert len(lines) == 1, self.tail(index)
    return lines[0]

  def name(self, index):
    return "%sworker %d (%s)" % ("the chief, " if index == 0 else "", index,
                                 self.addresses[index])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """Records and a config; `whole` is filled in by the fixture of that name."""
  root = tmp_path_factory.mktemp("cluster")
  batches = [helpers.make_features(_CONFIG, batch_size=_BATCH, seq_length=_SEQ,
                                   max_predictions=_PRED, seed=60 + s) for s in range(8)]
  return dict(records=helpers.write_records(str(root / "train.tfrecord"), batches),
              config=helpers.write_config(str(root / "bert_config.json"), _CONFIG),
              root=root, whole=str(root / "whole"))


@pytest.fixture(scope="module")
def whole(data):
  """The uninterrupted two-worker run, to compare the reruns with."""
  with _Workers(data["root"], [_flags(data, data["whole"])] * 2) as workers:
    statuses = workers.wait(2 * _START_SECONDS)
    assert statuses == [0, 0], workers.tail(0) + workers.tail(1)
  return data["whole"]


def _assert_same_as_whole(data, output_dir):
  final = "model.ckpt-%d" % _STEPS
  ours = helpers.read_checkpoint(os.path.join(str(output_dir), final))
  whole = helpers.read_checkpoint(os.path.join(data["whole"], final))
  assert ours.keys() == whole.keys()
  for name in whole:
    np.testing.assert_allclose(ours[name], whole[name], rtol=1e-6, atol=1e-7, err_msg=name)


def _assert_complete_checkpoints(output_dir):
  """Every checkpoint under its final name is complete (no partial one), no temporary file."""
  names = os.listdir(str(output_dir))
  assert not [n for n in names if re.search(r"\.tmp-|tempstate|\.incomplete-", n)], names
  for name in names:
    if name.endswith(".index"):
      step = int(re.search(r"model\.ckpt-(\d+)\.index$", name).group(1))
      assert helpers.read_checkpoint(os.path.join(str(output_dir), name[:-6]))[
          "global_step"] == step


def _latest_step(output_dir):
  latest = checkpoints.latest_checkpoint(str(output_dir))
  return int(latest.rsplit("-", 1)[1]) if latest else None


def _rerun_and_compare(data, tmp_path, out, resume_step):
  with _Workers(tmp_path, [_flags(data, out)] * 2) as workers:
    assert workers.wait(2 * _START_SECONDS) == [0, 0], workers.tail(0) + workers.tail(1)
    assert "Resuming from %s" % os.path.join(str(out), "model.ckpt-%d" % resume_step) in (
        workers.log(0))
  _assert_same_as_whole(data, out)


@pytest.mark.parametrize("victim, signal_number", [
    (1, signal.SIGKILL), (1, signal.SIGSTOP), (0, signal.SIGKILL)],
                         ids=["worker_killed", "worker_frozen", "chief_killed"])
def test_lost_worker_stops_the_others_with_one_line(data, whole, tmp_path, victim,
                                                    signal_number):
  """SIGKILL (the process dies, its connections close) or SIGSTOP (a machine gone silent: only
  the heartbeat tells) of worker 1, or SIGKILL of the chief (where the coordination service
  runs): the other stops within the bound, naming the lost one, status 69, no new checkpoint;
  every worker rerun resumes and ends as the uninterrupted run."""
  out = tmp_path / "out"
  survivor = 1 - victim
  with _Workers(tmp_path, [_flags(data, out)] * 2) as workers:
    workers.wait_for(str(out / ("model.ckpt-%d.index" % _SAVE_EVERY)))
    os.kill(workers.processes[victim].pid, signal_number)
    faulted = time.time()
    deadline = faulted + _STOP_BOUND_SECONDS
    while workers.processes[survivor].poll() is None and time.time() < deadline:
      time.sleep(0.02)
    print("\n%s of worker %d: worker %d stopped %.1f s after" % (
        signal.Signals(signal_number).name, victim, survivor, time.time() - faulted))
    assert workers.processes[survivor].poll() == 69, workers.tail(survivor)
    line = workers.last_line(survivor)
    assert re.fullmatch(
        r"run_pretraining\.py: worker lost: %s was lost \(TensorFlow: .+\); this worker "
        r"stopped at step (\d+)\. The last checkpoint is %s; rerun every worker to resume\." % (
            re.escape(workers.name(victim)), re.escape(str(out) + "/model.ckpt-") + r"\d+"),
        line), line
    at_step = int(re.search(r"stopped at step (\d+)", line).group(1))
    assert _SAVE_EVERY <= at_step < _STEPS
  _assert_complete_checkpoints(out)
  resume_step = _latest_step(out)
  assert resume_step == at_step // _SAVE_EVERY * _SAVE_EVERY  # nothing saved on the way out
  if (victim, signal_number) == (1, signal.SIGKILL):  # (the rerun is the same after any)
    _rerun_and_compare(data, tmp_path, out, resume_step)


def test_sigterm_to_one_worker_stops_all_at_the_same_step(data, whole, tmp_path):
  out = tmp_path / "out"
  with _Workers(tmp_path, [_flags(data, out)] * 2) as workers:
    workers.wait_for(str(out / ("model.ckpt-%d.index" % _SAVE_EVERY)))
    os.kill(workers.processes[1].pid, signal.SIGTERM)
    faulted = time.time()
    statuses = workers.wait(_STOP_BOUND_SECONDS)
    workers.report_stop("SIGTERM to worker 1", since=faulted)
    assert statuses == [75, 75], workers.tail(0) + workers.tail(1)
    steps = [int(re.fullmatch(r"run_pretraining\.py: preempted: stopped at step (\d+) \(.*\); "
                              r"rerun the same command to resume\.", workers.last_line(i))
                 .group(1)) for i in range(2)]
  assert steps[0] == steps[1] and _SAVE_EVERY <= steps[0] < _STEPS, steps
  assert ("saved %s/model.ckpt-%d" % (out, steps[0])) in workers.last_line(0)
  assert "the chief saves the checkpoint" in workers.last_line(1)
  assert _latest_step(out) == steps[0]
  _assert_complete_checkpoints(out)
  _rerun_and_compare(data, tmp_path, out, steps[0])


def _copies(data, tmp_path):
  """Each worker's own copy of the shard (same name, another disk), as on separate machines."""
  paths = []
  for index in range(2):
    os.makedirs(str(tmp_path / ("disk%d" % index)))
    paths.append(shutil.copy(data["records"], str(tmp_path / ("disk%d" % index))))
  return paths


def test_corrupt_shard_on_one_worker_stops_all_with_its_line(data, tmp_path):
  """Worker 1's copy has a flipped byte in record 20 (of 32, read in order): global batch 5 (0
  based), so every worker stops after step 5, the chief saves model.ckpt-5 and every worker
  exits 65 with worker 1's line; --skip_corrupt_records reads past it on worker 1 alone."""
  paths = _copies(data, tmp_path)
  with open(paths[1], "rb") as f:
    bad = [offset for offset, _ in tfrecord.read_records(f, os.path.getsize(paths[1]))][20]
  with open(paths[1], "r+b") as f:
    f.seek(bad + 30)
    byte = f.read(1)
    f.seek(bad + 30)
    f.write(bytes([byte[0] ^ 0xFF]))
  out = tmp_path / "out"
  with _Workers(tmp_path, [_flags(data, out, input_file=p) for p in paths]) as workers:
    statuses = workers.wait(2 * _START_SECONDS)
    assert statuses == [65, 65], workers.tail(0) + workers.tail(1)
    workers.report_stop("a corrupt record on worker 1")
    own = ("%s: byte %d: the record's data fail their CRC check (corrupt bytes); training "
           "stopped after step 5 (the chief saves the checkpoint); repair or remove the file "
           "and rerun to resume, or rerun with --skip_corrupt_records to read past corrupt "
           "records." % (paths[1], bad))
    assert workers.last_line(1) == "run_pretraining.py: error: " + own
    assert workers.last_line(0) == "run_pretraining.py: error: %s: %s; the chief saved %s." % (
        workers.name(1), own.rstrip("."), out / "model.ckpt-5")
  assert _latest_step(out) == 5
  _assert_complete_checkpoints(out)
  # --skip_corrupt_records on every worker: the run resumes and finishes; each worker counts
  # what it skipped (worker 1: the rest of its copy, in every pass; the chief: nothing).
  with _Workers(tmp_path, [_flags(data, out, input_file=p, skip_corrupt_records=True)
                           for p in paths]) as workers:
    assert workers.wait(2 * _START_SECONDS) == [0, 0], workers.tail(0) + workers.tail(1)
    counts = [int(re.search(r"--skip_corrupt_records: (\d+) records \(\d+ bytes\) skipped",
                            workers.log(i)).group(1)) for i in range(2)]
    assert "%s: byte %d: the record's data fail their CRC check" % (paths[1], bad) in (
        workers.log(1))
  assert counts[0] == 0 and counts[1] > 0 and counts[1] % 12 == 0, counts
  assert _latest_step(out) == _STEPS


def test_chief_cannot_write_stops_every_worker(data, whole, tmp_path):
  """The chief's files limited to half a checkpoint's data (EFBIG, as on a full disk): resumed
  from model.ckpt-40, its save at step 60 fails; every worker exits 74 with the chief's line,
  model.ckpt-40 stays intact, and the rerun with space back resumes from it."""
  out = tmp_path / "out"
  out.mkdir()
  start = 2 * _SAVE_EVERY
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(os.path.join(data["whole"], "model.ckpt-%d%s" % (start, suffix)), str(out))
  checkpoint_manager.write_checkpoint_state(str(out), [str(out / ("model.ckpt-%d" % start))])
  before = {n: open(str(out / n), "rb").read() for n in os.listdir(str(out))}
  limit = os.path.getsize(str(out / ("model.ckpt-%d.data-00000-of-00001" % start))) // 2
  with _Workers(tmp_path, [_flags(data, out)] * 2, file_size_limits={0: limit}) as workers:
    statuses = workers.wait(2 * _START_SECONDS)
    assert statuses == [74, 74], workers.tail(0) + workers.tail(1)
    workers.report_stop("the chief's full disk")
    own = ("Cannot save checkpoint %s: File too large. The previous checkpoint %s and the "
           "`checkpoint` file naming it are intact: free space (or repair %s) and rerun to "
           "resume from it." % (out / ("model.ckpt-%d" % (start + _SAVE_EVERY)),
                                out / ("model.ckpt-%d" % start), out))
    assert workers.last_line(0) == "run_pretraining.py: error: " + own
    assert workers.last_line(1) == "run_pretraining.py: error: %s: %s" % (workers.name(0), own)
  assert {n: open(str(out / n), "rb").read() for n in before} == before
  _assert_complete_checkpoints(out)
  _rerun_and_compare(data, tmp_path, out, start)


def test_worker_started_for_another_run_stops_all_before_any_step(data, tmp_path):
  """Worker 1 with another batch size and config: both stop before any variable exists, naming
  what differs; worker 1 with another --max_seq_length fails its own record check, and the
  chief stops with worker 1's line."""
  other_config = helpers.write_config(str(tmp_path / "other.json"),
                                      dict(_CONFIG, hidden_size=16, intermediate_size=32))
  out = tmp_path / "out"
  with _Workers(tmp_path, [_flags(data, out), _flags(data, out, train_batch_size=8,
                                                     config_file=other_config)]) as workers:
    assert workers.wait(_START_SECONDS) == [1, 1], workers.tail(0) + workers.tail(1)
    expected = ("run_pretraining.py: error: worker 1 (%s) was started for another run than %s: "
                "--train_batch_size=8 (the chief's: 4); the config's hidden_size=16 (the "
                "chief's: 32); the config's intermediate_size=32 (the chief's: 64). Every "
                "worker needs the same flags, config, input files and --output_dir."
                % (workers.addresses[1], workers.name(0)))
    assert [workers.last_line(i) for i in range(2)] == [expected] * 2
  assert not [n for n in os.listdir(str(out)) if n.startswith("model.ckpt")]
  with _Workers(tmp_path, [_flags(data, out), _flags(data, out, max_seq_length=20)]) as workers:
    assert workers.wait(_START_SECONDS) == [1, 1], workers.tail(0) + workers.tail(1)
    own = ("%s: feature input_ids has length 24 but --max_seq_length expects 20; the records "
           "were written with other settings." % data["records"])
    assert workers.last_line(1) == "run_pretraining.py: error: " + own
    assert workers.last_line(0) == "run_pretraining.py: error: worker 1 (%s): %s" % (
        workers.addresses[1], own)
  assert not [n for n in os.listdir(str(out)) if n.startswith("model.ckpt")]
