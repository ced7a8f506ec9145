"""Faults tried on purpose, each made for real: records cut short and bytes flipped, input files
deleted, replaced or made unreadable while a run uses them, a full disk (RLIMIT_FSIZE), damaged
checkpoints, a line of hundreds of MB, bad configs. For each: the one-line message, the exit
status, that no complete file was lost or replaced by a partial one, and that a rerun resumes or
finishes. README.md's fault table names these tests.

Runs are in-process (`errors.one_line_errors` is the scripts' own error path, so the status and
the line are the ones a user sees) except where a real process is needed: the command line end
to end once, and RLIMIT_FSIZE.
"""

import contextlib
import hashlib
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm.storage import checkpoints
from bert_mlm.training import checkpoint_manager
from bert_mlm import errors
from bert_mlm.training import evaluation
from bert_mlm.storage import file_io
from bert_mlm.training import input_pipeline
from bert_mlm import create_pretraining_data
from bert_mlm.storage import tfrecord
from bert_mlm.training import loop
from bert_mlm.config import BertConfig
from reference import original
from tests import helpers

_SEQ, _PRED, _BATCH = 24, 4, 4
_STEPS, _PER_LOOP = 30, 10
_CONFIG = helpers.TRAIN_CONFIG
_NOBODY = 65534
_RESUME_HINT = ("repair or remove the file and rerun to resume, or rerun with "
                "--skip_corrupt_records to read past corrupt records.")

# ---------------------------------------------------------------------------------------------
# Helpers.


def _batches(first_seed, count=6, seq_length=_SEQ):
  return [helpers.make_features(_CONFIG, _BATCH, seq_length, _PRED, seed=first_seed + s)
          for s in range(count)]


# The run of every training test here, as options and as run_pretraining.py's flags.
_RUN = dict(learning_rate=1e-3, num_train_steps=_STEPS, num_warmup_steps=3,
            save_checkpoints_steps=_PER_LOOP, iterations_per_loop=_PER_LOOP, seed=3)


def _options(files, output_dir, **kwargs):
  values = dict(_RUN, max_eval_steps=10)
  values.update(kwargs)
  return helpers.pretraining_options(files, output_dir, _CONFIG, _SEQ, _PRED, _BATCH, **values)


def _flags(files, output_dir, config_file):
  """run_pretraining.py's flags for _options(files, output_dir)."""
  return helpers.pretraining_flags(config_file, files, output_dir, _SEQ, _PRED, _BATCH,
                                   train_shuffle="false", **_RUN)


def _train(files, output_dir, **kwargs):
  return loop.run_pretraining(_options(files, output_dir, **kwargs),
                                  tf.distribute.OneDeviceStrategy("/cpu:0"))


def _stop(run, capsys, program="run_pretraining.py"):
  """Runs `run` inside the scripts' error handling; returns (exit status, stderr)."""
  capsys.readouterr()
  with pytest.raises(SystemExit) as stopped:
    with errors.one_line_errors(program):
      run()
  return stopped.value.code, capsys.readouterr().err


def _script(script, flags, file_size_limit=None):
  """Runs a top-level script in a new process, its files limited to `file_size_limit` bytes
  (RLIMIT_FSIZE: CPython ignores SIGXFSZ, so writes past it fail with EFBIG, as on a full
  disk); returns the CompletedProcess. Its stderr ends with the process's peak memory,
  `peak_rss_kb=<VmHWM>` (ru_maxrss would count the forked test process too)."""
  launcher = ("import resource, runpy, sys\n"
              "if %r is not None:\n"
              "  resource.setrlimit(resource.RLIMIT_FSIZE, (%r, %r))\n"
              "sys.argv = sys.argv[1:]\n"
              "try:\n"
              "  runpy.run_path(sys.argv[0], run_name='__main__')\n"
              "finally:\n"
              "  peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
              "  sys.stderr.write('\\npeak_rss_kb=%%s\\n' %% peak[0].split()[1])\n"
              % (file_size_limit, file_size_limit, file_size_limit))
  return subprocess.run([sys.executable, "-c", launcher, os.path.join(helpers.REPO, script)] +
                        flags, capture_output=True, text=True, timeout=900)


@contextlib.contextmanager
def _file_size_limit(limit):
  """RLIMIT_FSIZE in this process (CPython ignores SIGXFSZ: writes past it fail with EFBIG)."""
  soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
  resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
  try:
    yield
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _error_line(stderr):
  """The script's last line before the launcher's peak memory line."""
  lines = [l for l in stderr.splitlines() if l.strip() and not l.startswith("peak_rss_kb=")]
  return lines[-1]


def _peak_memory(stderr):
  return int(re.search(r"^peak_rss_kb=(\d+)$", stderr, re.M).group(1)) * 1024


def _offsets(path):
  with open(path, "rb") as f:
    return [offset for offset, _ in tfrecord.read_records(f, os.path.getsize(path))]


def _records(path):
  with open(path, "rb") as f:
    return [data for _, data in tfrecord.read_records(f, os.path.getsize(path))]


def _flip_byte(path, offset):
  with open(path, "r+b") as f:
    f.seek(offset)
    byte = f.read(1)
    f.seek(offset)
    f.write(bytes([byte[0] ^ 0xFF]))


def _digests(directory):
  """{name: sha256} of the files in `directory`."""
  paths = {name: os.path.join(directory, name) for name in os.listdir(directory)}
  return {name: hashlib.sha256(open(path, "rb").read()).hexdigest()
          for name, path in paths.items() if os.path.isfile(path)}


def _assert_no_partial_files(directory):
  leftovers = [n for n in os.listdir(directory)
               if re.search(r"\.tmp-|tempstate|\.incomplete-|\.write_check", n)]
  assert not leftovers, leftovers


def _assert_checkpoint_at(output_dir, step):
  """model.ckpt-<step> is complete, holds global_step == step, and the state file names it."""
  prefix = os.path.join(str(output_dir), "model.ckpt-%d" % step)
  assert helpers.read_checkpoint(prefix)["global_step"] == step
  assert tf.train.latest_checkpoint(str(output_dir)) == prefix


def _assert_same_run(output_dir, whole_dir, lost_steps=()):
  """The final checkpoint equals the uninterrupted run's, and so do the per-step losses the
  runs logged (the steps of a loop call that failed are not logged: `lost_steps`)."""
  final = "model.ckpt-%d" % _STEPS
  ours = helpers.read_checkpoint(os.path.join(str(output_dir), final))
  whole = helpers.read_checkpoint(os.path.join(whole_dir, final))
  assert ours.keys() == whole.keys()
  for name in whole:
    np.testing.assert_allclose(ours[name], whole[name], rtol=1e-6, atol=1e-7, err_msg=name)
  for tag in helpers.STEP_COLUMNS:
    logged = dict(helpers.read_scalars(str(output_dir))[tag])
    expected = dict(helpers.read_scalars(whole_dir)[tag])
    assert sorted(logged) == sorted(set(range(1, _STEPS + 1)) - set(lost_steps)), tag
    np.testing.assert_allclose([logged[s] for s in sorted(logged)],
                               [expected[s] for s in sorted(logged)], rtol=1e-6, atol=1e-7,
                               err_msg=tag)


@contextlib.contextmanager
def _as_nobody():
  """Runs the body without root's power over file modes (root reads a file of mode 000).

  The effective uid changes for every thread (glibc), and back afterwards. TensorFlow imports
  some modules lazily, from a site-packages nobody may not reach: run the same code path as root
  first (the module's fixture trains once).
  """
  if os.geteuid() != 0:
    yield
    return
  os.setegid(_NOBODY)
  os.seteuid(_NOBODY)
  try:
    yield
  finally:
    os.seteuid(0)
    os.setegid(0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """Two record files (a: 6 batches, b: 6 batches, read in this order, 12 batches a pass) and
  the uninterrupted run on them, to compare with."""
  root = tmp_path_factory.mktemp("faults")
  a = helpers.write_records(str(root / "a.tfrecord"), _batches(0))
  b = helpers.write_records(str(root / "b.tfrecord"), _batches(6))
  whole = str(root / "whole")
  _train([a, b], whole)
  config_file = helpers.write_config(str(root / "bert_config.json"), _CONFIG)
  return types.SimpleNamespace(root=root, a=a, b=b, whole=whole, config_file=config_file)


def _inputs(directory, data):
  """Fresh copies of a and b in `directory`, for a test to damage."""
  os.makedirs(str(directory), exist_ok=True)
  return [shutil.copy(path, os.path.join(str(directory), os.path.basename(path)))
          for path in (data.a, data.b)]


def _damage_after_checks(monkeypatch, damage):
  """Calls `damage()` once the run has checked its inputs (their first records read) and
  before its input pipeline reads any record: the moment a file changes under a running job."""
  make_dataset = input_pipeline.make_dataset

  def make_dataset_after_damage(*args, **kwargs):
    damage()
    return make_dataset(*args, **kwargs)

  monkeypatch.setattr(input_pipeline, "make_dataset", make_dataset_after_damage)


# ---------------------------------------------------------------------------------------------
# Training data that break mid-run.


@pytest.mark.slow
def test_truncated_shard_checkpoints_the_last_step_and_resumes_once_repaired(data, tmp_path,
                                                                           caplog):
  a, b = _inputs(tmp_path / "in", data)
  last = _offsets(b)[-1]
  size = os.path.getsize(b)
  with open(b, "r+b") as f:
    f.truncate(size - 10)  # the last record cut short: an interrupted copy
  out = tmp_path / "out"
  # The command line, end to end: the status and the line a user sees.
  result = _script("run_pretraining.py", _flags([a, b], out, data.config_file))
  assert result.returncode == 65, result.stderr[-3000:]
  # 11 batches come before the one holding b's last record, the 48th: (24 + 23) // 4.
  assert _error_line(result.stderr) == (
      "run_pretraining.py: error: %s: byte %d: the record is cut short: it holds %d bytes of "
      "data but the file ends %d bytes after its start (an interrupted copy?); training stopped "
      "after step 11 (saved %s); %s" % (b, last, size - last - 16, size - 10 - last,
                                         out / "model.ckpt-11", _RESUME_HINT))
  assert "Traceback" not in result.stderr
  _assert_checkpoint_at(out, 11)
  for step in (0, 10):  # the earlier checkpoints are complete
    assert helpers.read_checkpoint(str(out / ("model.ckpt-%d" % step)))["global_step"] == step
  _assert_no_partial_files(out)
  # Repaired, the same command resumes from step 11 and ends where the uninterrupted run ends.
  shutil.copy(data.b, b)
  with caplog.at_level(logging.INFO, logger="absl"):
    _train([a, b], out)
  assert "Resuming from %s" % (out / "model.ckpt-11") in caplog.text
  _assert_same_run(out, data.whole, lost_steps=[11])


@pytest.mark.slow
def test_flipped_byte_stops_and_skip_corrupt_records_reads_past_it(data, tmp_path, capsys,
                                                                   caplog):
  a, b = _inputs(tmp_path / "in", data)
  offsets = _offsets(b)
  bad = offsets[6]  # b's 7th record, in batch (24 + 6) // 4 = 7
  _flip_byte(b, bad + 30)  # a byte of its data
  out = tmp_path / "out"
  status, err = _stop(lambda: _train([a, b], out), capsys)
  assert status == 65
  assert err == ("run_pretraining.py: error: %s: byte %d: the record's data fail their CRC "
                 "check (corrupt bytes); training stopped after step 7 (saved %s); %s\n"
                 % (b, bad, out / "model.ckpt-7", _RESUME_HINT))
  _assert_checkpoint_at(out, 7)
  _assert_no_partial_files(out)
  # With --skip_corrupt_records the rerun resumes and finishes; every pass over b loses its
  # last 18 records (a TFRecord file can't be read past a broken record), all counted.
  with caplog.at_level(logging.INFO, logger="absl"):
    _train([a, b], out, skip_corrupt_records=True)
  assert "Resuming from %s" % (out / "model.ckpt-7") in caplog.text
  assert ("--skip_corrupt_records: %s: byte %d: the record's data fail their CRC check "
          "(corrupt bytes); skipped the rest of the file: 18 records (%d bytes; a TFRecord file "
          "can't be read past a broken record)" % (b, bad, os.path.getsize(b) - bad)
          in caplog.text)
  skipped = int(re.search(r"--skip_corrupt_records: (\d+) records \(\d+ bytes\) skipped",
                          caplog.text).group(1))
  # The rerun reads 23 steps' batches after the 7 it passes over: 120 records, 30 a pass.
  assert skipped % 18 == 0 and skipped >= 4 * 18, skipped
  _assert_checkpoint_at(out, _STEPS)


def _delete(path):
  os.remove(path)


def _replace_with_directory(path):
  os.remove(path)
  os.mkdir(path)


def _revoke_read_permission(path):
  os.chmod(path, 0)


_GONE = {
    "deleted": (_delete, "the file no longer exists (deleted or moved after the run started?)"),
    "replaced_by_a_directory": (_replace_with_directory,
                                "the file can no longer be read (Is a directory)"),
    "read_permission_revoked": (_revoke_read_permission,
                                "the file can no longer be read: permission denied"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(_GONE))
def test_input_file_gone_or_unreadable_mid_run(data, tmp_path, capsys, monkeypatch, fault):
  damage, reason = _GONE[fault]
  # A directory that nobody (see _as_nobody) can use too; pytest's tmp_path is root's alone.
  directory = tempfile.mkdtemp(prefix="bert_mlm_faults_")
  try:
    os.chmod(directory, 0o777)
    a, b = _inputs(os.path.join(directory, "in"), data)
    os.chmod(os.path.dirname(a), 0o777)
    if os.geteuid() == 0:
      os.chown(b, _NOBODY, _NOBODY)  # so that nobody may revoke its permissions
    out = os.path.join(directory, "out")
    _damage_after_checks(monkeypatch, lambda: damage(b))
    with _as_nobody() if fault == "read_permission_revoked" else contextlib.nullcontext():
      status, err = _stop(lambda: _train([a, b], out), capsys)
    assert status == 65
    # a's 6 batches train; the 7th batch is b's first.
    assert err == ("run_pretraining.py: error: %s: %s; training stopped after step 6 (saved %s);"
                   " %s\n" % (b, reason, os.path.join(out, "model.ckpt-6"), _RESUME_HINT))
    _assert_checkpoint_at(out, 6)
    _assert_no_partial_files(out)
    # The file back in place, the rerun resumes and ends as the uninterrupted run.
    monkeypatch.undo()
    if os.path.isdir(b):
      os.rmdir(b)
    elif os.path.exists(b):
      os.chmod(b, 0o644)
    shutil.copy(data.b, b)
    _train([a, b], out)
    _assert_same_run(out, data.whole, lost_steps=range(1, 7))
  finally:
    shutil.rmtree(directory)


@pytest.mark.slow
def test_file_of_another_layout_mid_run(data, tmp_path, capsys, monkeypatch):
  a, b = _inputs(tmp_path / "in", data)
  # After the checks, b is replaced by records written for --max_seq_length=20.
  _damage_after_checks(monkeypatch, lambda: helpers.write_records(b, _batches(6, seq_length=20)))
  out = tmp_path / "out"
  status, err = _stop(lambda: _train([a, b], out), capsys)
  assert status == 65
  assert err == ("run_pretraining.py: error: %s: feature input_ids has length 20 but "
                 "--max_seq_length expects 24; the records were written with other settings; "
                 "training stopped after step 6 (saved %s); %s\n"
                 % (b, out / "model.ckpt-6", _RESUME_HINT))
  _assert_checkpoint_at(out, 6)
  monkeypatch.undo()
  shutil.copy(data.b, b)
  _train([a, b], out)
  _assert_checkpoint_at(out, _STEPS)


@pytest.mark.slow
def test_records_of_another_layout_inside_a_file(data, tmp_path, capsys, caplog):
  a, b = _inputs(tmp_path / "in", data)
  # b's records 11 and 12 are of another layout; its first record is fine.
  records = _records(data.b)
  helpers.write_records(str(tmp_path / "short.tfrecord"), _batches(6, 1, seq_length=20))
  others = _records(str(tmp_path / "short.tfrecord"))[:2]
  with open(b, "wb") as f:
    f.write(b"".join(tfrecord.frame(r) for r in records[:10] + others + records[10:]))
  bad = _offsets(b)[10]
  out = tmp_path / "out"
  status, err = _stop(lambda: _train([a, b], out), capsys)
  assert status == 65
  # Batch (24 + 10) // 4 = 8 holds them.
  assert err.startswith("run_pretraining.py: error: %s: byte %d: the record is not a pretraining "
                        "example of --max_seq_length=24 --max_predictions_per_seq=4 (" % (b, bad))
  assert err.endswith("; training stopped after step 8 (saved %s); %s\n"
                      % (out / "model.ckpt-8", _RESUME_HINT))
  _assert_checkpoint_at(out, 8)
  with caplog.at_level(logging.INFO, logger="absl"):
    _train([a, b], out, skip_corrupt_records=True)
  assert ("--skip_corrupt_records: %s: 2 records (the first at byte %d) are not pretraining "
          "examples of --max_seq_length=24 --max_predictions_per_seq=4; skipped" % (b, bad)
          in caplog.text)
  skipped = int(re.search(r"--skip_corrupt_records: (\d+) records \(\d+ bytes\) skipped",
                          caplog.text).group(1))
  assert skipped % 2 == 0 and skipped >= 2 * 3, skipped
  _assert_checkpoint_at(out, _STEPS)


def test_corrupt_record_during_evaluation(data, tmp_path, capsys, caplog):
  _, b = _inputs(tmp_path / "in", data)
  last = _offsets(b)[-1]
  with open(b, "r+b") as f:
    f.truncate(os.path.getsize(b) - 10)
  out = tmp_path / "eval"
  weights = os.path.join(data.whole, "model.ckpt-%d" % _STEPS)

  def evaluate(**kwargs):
    return _train([b], out, do_train=False, do_eval=True, init_checkpoint=weights, **kwargs)

  status, err = _stop(evaluate, capsys)
  assert status == 65
  assert err.startswith("run_pretraining.py: error: %s: byte %d: the record is cut short: "
                        % (b, last))
  assert err.endswith("; evaluation stopped (nothing to save: the weights evaluated are %s); "
                      "repair or remove the file and rerun, or rerun with "
                      "--skip_corrupt_records.\n" % weights)
  assert os.listdir(str(out)) == []  # no eval_results.txt, partial or not
  with caplog.at_level(logging.INFO, logger="absl"):
    _, result = evaluate(skip_corrupt_records=True)
  assert np.isfinite(result["loss"])
  assert os.path.exists(str(out / "eval_results.txt"))
  assert "--skip_corrupt_records: %s: byte %d: the record is cut short" % (b, last) in caplog.text


def test_skip_corrupt_records_still_stops_on_a_vanished_file(data, tmp_path, capsys,
                                                            monkeypatch):
  a, b = _inputs(tmp_path / "in", data)
  out = tmp_path / "eval"
  weights = os.path.join(data.whole, "model.ckpt-%d" % _STEPS)
  _damage_after_checks(monkeypatch, lambda: os.remove(b))
  status, err = _stop(lambda: _train([a, b], out, do_train=False, do_eval=True,
                                     init_checkpoint=weights, skip_corrupt_records=True), capsys)
  assert (status, err) == (65, "run_pretraining.py: error: %s: the file no longer exists (deleted "
                           "or moved after the run started?); evaluation stopped (nothing to "
                           "save: the weights evaluated are %s); repair or remove the file and "
                           "rerun.\n" % (b, weights))


def test_eval_results_write_failure_keeps_the_previous_file(tmp_path, capsys):
  previous = tmp_path / "eval_results.txt"
  previous.write_text("loss = 1.0\n")
  # A full disk: files of at most 4 bytes while it writes (as root, file modes would not stop
  # the write).
  with _file_size_limit(4):
    status, err = _stop(lambda: evaluation.write_eval_results(str(tmp_path), {"loss": 0.5}),
                        capsys)
  assert status == 74
  assert err.startswith("run_pretraining.py: error: Cannot write %s: " % previous)
  assert err.endswith(" (the results are in the log above; an existing eval_results.txt is "
                      "unchanged).\n")
  assert previous.read_text() == "loss = 1.0\n"
  _assert_no_partial_files(str(tmp_path))


# ---------------------------------------------------------------------------------------------
# Checkpoints.


@pytest.mark.slow
def test_full_disk_at_checkpoint_keeps_the_previous_one_and_resumes(data, tmp_path, caplog):
  a, b = _inputs(tmp_path / "in", data)
  # A run that stopped at step 10.
  out = tmp_path / "out"
  out.mkdir()
  for suffix in (".index", ".data-00000-of-00001"):
    shutil.copy(os.path.join(data.whole, "model.ckpt-10" + suffix), str(out))
  checkpoint_manager.write_checkpoint_state(str(out), [str(out / "model.ckpt-10")])
  before = _digests(str(out))
  # Files of at most half a checkpoint's data: the resumed run trains to step 20 and its save
  # there fails (EFBIG, as ENOSPC on a full disk). Its log and summaries are far smaller.
  limit = os.path.getsize(str(out / "model.ckpt-10.data-00000-of-00001")) // 2
  result = _script("run_pretraining.py", _flags([a, b], out, data.config_file),
                   file_size_limit=limit)
  assert result.returncode == 74, result.stderr[-3000:]
  assert _error_line(result.stderr) == (
      "run_pretraining.py: error: Cannot save checkpoint %s: File too large. The previous "
      "checkpoint %s and the `checkpoint` file naming it are intact: free space (or repair %s) "
      "and rerun to resume from it." % (out / "model.ckpt-20", out / "model.ckpt-10", out))
  after = _digests(str(out))
  assert {n: after[n] for n in before} == before  # checkpoint and state file untouched
  assert all(n.startswith("events.out.tfevents.") for n in set(after) - set(before))
  _assert_no_partial_files(out)
  # Space back: the same command resumes from step 10 and ends as the uninterrupted run.
  with caplog.at_level(logging.INFO, logger="absl"):
    _train([a, b], out)
  assert "Resuming from %s" % (out / "model.ckpt-10") in caplog.text
  final = helpers.read_checkpoint(str(out / ("model.ckpt-%d" % _STEPS)))
  whole = helpers.read_checkpoint(os.path.join(data.whole, "model.ckpt-%d" % _STEPS))
  for name in whole:
    np.testing.assert_allclose(final[name], whole[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_resume_falls_back_to_the_newest_complete_checkpoint(data, tmp_path, caplog):
  a, b = _inputs(tmp_path / "in", data)
  out = tmp_path / "out"
  shutil.copytree(data.whole, str(out))
  newest = out / ("model.ckpt-%d" % _STEPS)
  # The state file names model.ckpt-30, whose data file was cut short.
  data_file = str(newest) + ".data-00000-of-00001"
  with open(data_file, "r+b") as f:
    f.truncate(os.path.getsize(data_file) // 2)
  with caplog.at_level(logging.INFO, logger="absl"):
    _train([a, b], out)
  assert re.search(r"Checkpoint %s can't be restored \(Checkpoint %s: variable \S+ cannot be "
                   r"read \(truncated or corrupt\?\): .*\); trying the one before it\."
                   % (re.escape(str(newest)), re.escape(str(newest))), caplog.text)
  assert ("Restored %s, the newest complete checkpoint; skipped %s."
          % (out / "model.ckpt-20", newest) in caplog.text)
  assert "Resuming from %s" % (out / "model.ckpt-20") in caplog.text
  _assert_same_run(out, data.whole)
  # The state file unreadable and the newest checkpoint without its index: the newest
  # model.ckpt-<step> in the directory.
  with open(str(out / "checkpoint"), "w") as f:
    f.write("garbage ][\n")
  os.remove(str(newest) + ".index")
  caplog.clear()
  with caplog.at_level(logging.INFO, logger="absl"):
    _train([a, b], out)
  assert "%s can't be parsed" % (out / "checkpoint") in caplog.text
  assert "Resuming from %s" % (out / "model.ckpt-20") in caplog.text
  _assert_checkpoint_at(out, _STEPS)
  _assert_no_partial_files(out)


def test_unwritable_output_dir_is_an_error_before_any_variable(data, tmp_path, capsys,
                                                              monkeypatch):
  def no_model(*args, **kwargs):
    raise AssertionError("a model was built")

  monkeypatch.setattr(loop, "Pretraining", no_model)
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  status, err = _stop(lambda: _train([data.a], a_file / "out"), capsys)
  assert (status, err) == (74, "run_pretraining.py: error: --output_dir=%s can't be written: "
                           "%s is not a directory.\n" % (a_file / "out", a_file))
  # A directory the run may not write in (root may write anywhere: run as nobody).
  directory = tempfile.mkdtemp(prefix="bert_mlm_faults_")
  try:
    records = shutil.copy(data.a, directory)
    os.chmod(directory, 0o555)
    with _as_nobody():
      status, err = _stop(lambda: _train([records], os.path.join(directory, "out")), capsys)
    assert (status, err) == (74, "run_pretraining.py: error: --output_dir=%s can't be written: "
                             "Permission denied.\n" % os.path.join(directory, "out"))
    assert os.listdir(directory) == ["a.tfrecord"]
  finally:
    os.chmod(directory, 0o755)
    shutil.rmtree(directory)


# ---------------------------------------------------------------------------------------------
# Configs.


def test_config_syntax_error_names_file_line_and_column(tmp_path, capsys):
  path = tmp_path / "bert_config.json"
  path.write_text('{\n  "vocab_size": 97,\n  "hidden_size": 32\n  "num_attention_heads": 4\n}\n')
  status, err = _stop(lambda: BertConfig.from_json_file(str(path)), capsys)
  assert (status, err) == (1, "run_pretraining.py: error: %s:4:3: not valid JSON (Expecting ',' "
                           "delimiter).\n" % path)
  path.write_text("[1, 2]")
  status, err = _stop(lambda: BertConfig.from_json_file(str(path)), capsys)
  assert (status, err) == (1, "run_pretraining.py: error: %s: a JSON object of the config's "
                           "fields is expected, not list.\n" % path)


@pytest.mark.parametrize("change, message", [
    (dict(hidden_size=30), "BertConfig.hidden_size (30) is not a multiple of "
                           "num_attention_heads (4)."),
    (dict(hidden_size=0), "BertConfig.hidden_size must be a positive integer, got 0."),
    (dict(intermediate_size=-64), "BertConfig.intermediate_size must be a positive integer, "
                                  "got -64."),
    (dict(num_attention_heads="4"), "BertConfig.num_attention_heads must be a positive integer, "
                                    "got '4'."),
    (dict(hidden_dropout_prob="0.1"), "BertConfig.hidden_dropout_prob must be a number, "
                                      "got '0.1'."),
    (dict(max_position_embeddings=16), "--max_seq_length=24 exceeds the config's "
                                       "max_position_embeddings=16."),
    (dict(type_vocab_size=1), "The config's type_vocab_size=1 is below 2: pretraining examples "
                              "have two segments (segment_ids 0 and 1)."),
], ids=["heads", "hidden_zero", "intermediate_negative", "heads_string", "dropout_string",
        "positions", "segments"])
def test_impossible_shapes_are_errors_before_any_variable(data, tmp_path, capsys, monkeypatch,
                                                         change, message):
  def no_model(*args, **kwargs):
    raise AssertionError("a model was built")

  monkeypatch.setattr(loop, "Pretraining", no_model)
  path = helpers.write_config(str(tmp_path / "bert_config.json"), dict(_CONFIG, **change))
  out = tmp_path / "out"
  status, err = _stop(lambda: _train([data.a], out, bert_config=BertConfig.from_json_file(path)),
                      capsys)
  assert status == 1
  assert err == "run_pretraining.py: error: %s\n" % (
      message if message.startswith(("--", "The")) else "%s: %s" % (path, message))
  assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Data creation.


def _create(input_file, output_file, vocab_file, **flags):
  return create_pretraining_data.create_pretraining_data(
      input_file, output_file, vocab_file, create_pretraining_data.DataOptions(**flags))


def test_data_creation_full_disk_leaves_no_partial_output(tmp_path, sample_corpus, sample_vocab):
  corpus = shutil.copy(sample_corpus, str(tmp_path / "corpus.txt"))
  corpus_digest = _digests(str(tmp_path))["corpus.txt"]
  out = tmp_path / "out"
  out.mkdir()
  output = out / "sample.tfrecord"
  output.write_bytes(b"a complete earlier output")
  flags = ["--input_file=" + corpus, "--output_file=%s" % output, "--vocab_file=" + sample_vocab,
           "--dupe_factor=1", "--max_seq_length=64", "--max_predictions_per_seq=10"]
  # Files of at most 200 kB: the output (about 2 MB) can't be written.
  result = _script("create_pretraining_data.py", flags, file_size_limit=200 * 1000)
  assert result.returncode == 74, result.stderr[-3000:]
  assert _error_line(result.stderr) == (
      "create_pretraining_data.py: error: Cannot write %s: File too large; nothing was written "
      "under its name (an existing file there is unchanged), and the inputs are untouched."
      % output)
  assert output.read_bytes() == b"a complete earlier output"
  assert os.listdir(str(out)) == ["sample.tfrecord"]
  assert _digests(str(tmp_path))["corpus.txt"] == corpus_digest
  # Space back: the rerun writes it.
  written = _create(corpus, str(output), sample_vocab, dupe_factor=1, max_seq_length=64,
                    max_predictions_per_seq=10)
  assert len(_records(str(output))) == written > 100


def test_data_creation_input_deleted_mid_run_is_named(tmp_path, sample_corpus, sample_vocab,
                                                      capsys, monkeypatch):
  with open(sample_corpus, encoding="utf-8") as f:
    documents = f.read().split("\n\n")
  first, second = str(tmp_path / "part-0.txt"), str(tmp_path / "part-1.txt")
  for path, part in ((first, documents[:20]), (second, documents[20:40])):
    with open(path, "w", encoding="utf-8") as f:
      f.write("\n\n".join(part) + "\n")
  saved = open(second, "rb").read()
  output = tmp_path / "out.tfrecord"
  output.write_bytes(b"a complete earlier output")
  read_text_lines = file_io.read_text_lines

  def read_then_delete_the_second(path):
    for number, line in read_text_lines(path):
      if path == first and number == 10:
        os.remove(second)  # while the first is being read
      yield number, line

  monkeypatch.setattr(file_io, "read_text_lines", read_then_delete_the_second)
  status, err = _stop(lambda: _create(first + "," + second, str(output), sample_vocab,
                                      dupe_factor=1),
                      capsys, "create_pretraining_data.py")
  assert (status, err) == (1, "create_pretraining_data.py: error: %s: no such file.\n" % second)
  assert output.read_bytes() == b"a complete earlier output"
  assert sorted(os.listdir(str(tmp_path))) == ["out.tfrecord", "part-0.txt"]
  monkeypatch.undo()
  with open(second, "wb") as f:
    f.write(saved)
  assert _create(first + "," + second, str(output), sample_vocab, dupe_factor=1) > 0


def test_data_creation_line_without_newline_is_refused_in_bounded_memory(tmp_path,
                                                                         sample_vocab):
  huge = tmp_path / "huge.txt"
  with open(str(huge), "wb") as f:
    f.write(b"A lone heron croaks at dawn.\n\n")
    f.truncate(512 << 20)  # then 512 MB of NUL bytes and no newline (a sparse file: no disk)
  output = tmp_path / "out.tfrecord"
  result = _script("create_pretraining_data.py", [
      "--input_file=%s" % huge, "--output_file=%s" % output, "--vocab_file=" + sample_vocab])
  assert result.returncode == 1, result.stderr[-3000:]
  assert _error_line(result.stderr) == (
      "create_pretraining_data.py: error: %s:3: a line of over %d MiB without a newline; data "
      "creation reads a line (one sentence) at a time: split the text into lines (one sentence "
      "per line, a blank line between documents)." % (huge, file_io.MAX_LINE_BYTES >> 20))
  # Peak memory: the interpreter's own and the 64 MiB read so far, not the 512 MB line.
  assert _peak_memory(result.stderr) < 192 << 20, _peak_memory(result.stderr)
  assert not output.exists()


def test_data_creation_nul_and_control_characters_as_the_original(tmp_path, sample_vocab):
  # NUL, C0/C1 controls, escape sequences, DEL, form feed and vertical tab, NEL, U+2028, a
  # lone \r: inside words, alone on a line (one that str.strip empties ends a document, one
  # that only tokenizes to nothing does not), around punctuation.
  text = ("A lone her\x00on croaks at dawn.\n"
          "\x00\x01\x02\x7f\n"
          "We counted ten \x1b[31msquirrels\x1b[0m in the hazel copse.\n"
          "\x1e\n"
          "A bat eats moths\x0b and\x0c beetles\x85 at night.\n"
          "Young squirrels\u2028stay close\r to the nest\x00.\n"
          "\n"
          "On Friday I saw 12 herons\x07 near the lighthouse.\n"
          "A lone squirrel chatters\x1f in the morning.\n"
          "\x00\n"
          "A bat eats moths.\n") * 3
  corpus = tmp_path / "controls.txt"
  corpus.write_bytes(text.encode("utf-8"))
  flags = dict(random_seed=5, dupe_factor=3, max_seq_length=32, max_predictions_per_seq=5,
               short_seq_prob=0.3)
  ours, theirs = str(tmp_path / "ours.tfrecord"), str(tmp_path / "theirs.tfrecord")
  assert _create(str(corpus), ours, sample_vocab, **flags) > 0
  original.run_original_create_pretraining_data(str(corpus), theirs, sample_vocab, **flags)
  assert original.read_examples(ours) == original.read_examples(theirs)
