"""Per-file mode: each output equals the single-process command on that file alone; workers,
memory budget, resume after SIGKILL, failures that spare the other files."""

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from bert_mlm.storage import atomic
from bert_mlm.storage import file_io
from bert_mlm.data import per_file
from bert_mlm.data.per_file import jobs as file_jobs
from bert_mlm.data.per_file import memory_budget
from bert_mlm.data.per_file import progress
from bert_mlm.data.per_file import worker_pool
from bert_mlm import create_pretraining_data
from bert_mlm.storage import tfrecord
from bert_mlm.errors import UsageError
from reference import original
from tests import helpers

_FLAGS = dict(dupe_factor=2, max_seq_length=64, max_predictions_per_seq=10, random_seed=7)


def _documents(path):
  with open(path, encoding="utf-8") as f:
    return [d for d in f.read().split("\n\n") if d.strip()]


def _write_parts(directory, documents, fractions, names=None):
  """Files of consecutive documents, sizes in the given fractions; returns their paths."""
  os.makedirs(directory, exist_ok=True)
  paths, start = [], 0
  for index, fraction in enumerate(fractions):
    end = start + max(1, int(len(documents) * fraction))
    name = names[index] if names else "part-%d.txt" % index
    paths.append(os.path.join(directory, name))
    with open(paths[-1], "w", encoding="utf-8") as f:
      f.write("\n\n".join(documents[start:end]) + "\n")
    start = end
  return paths


def _records(path):
  """The records of a TFRecord file, parsed without TensorFlow: [{feature: values}]."""
  with open(path, "rb") as f:
    data = f.read()
  records, pos = [], 0
  while pos < len(data):
    length = int.from_bytes(data[pos:pos + 8], "little")
    records.append(tfrecord.parse_example(data[pos + 12:pos + 12 + length]))
    pos += 12 + length + 4
  return records


def _assert_same_file(ours, expected):
  ours_records, expected_records = _records(ours), _records(expected)
  assert expected_records, expected
  assert ours_records == expected_records, "%s differs from %s" % (ours, expected)
  with open(ours, "rb") as a, open(expected, "rb") as b:
    assert a.read() == b.read()


def _single_process(inputs, directory, vocab, **flags):
  """Our single-process command on each file alone -> {input: output path}."""
  os.makedirs(directory, exist_ok=True)
  outputs = {}
  for path in inputs:
    outputs[path] = os.path.join(directory, os.path.basename(path) + ".single")
    create_pretraining_data.create_pretraining_data(path, outputs[path], vocab,
                                             create_pretraining_data.DataOptions(**flags))
  return outputs


@pytest.fixture(scope="module")
def parts(english_corpus, tmp_path_factory):
  """Three files of 5%, 15% and 30% of the English corpus (15, 45 and 90 KB)."""
  return _write_parts(str(tmp_path_factory.mktemp("parts")), _documents(english_corpus),
                      [0.05, 0.15, 0.3])


@pytest.fixture(scope="module")
def single_outputs(parts, minilm_vocab, tmp_path_factory):
  """flags -> {part: our single-process command's output on that part alone}, made once."""
  made = {}

  def get(**flags):
    key = repr(create_pretraining_data.DataOptions(**flags))
    if key not in made:
      made[key] = _single_process(parts, str(tmp_path_factory.mktemp("single")), minilm_vocab,
                                  **flags)
    return made[key]

  return get


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("whole_word", [False, True], ids=["token", "wwm"])
def test_each_output_equals_single_process_on_that_file(parts, minilm_vocab, single_outputs,
                                                         tmp_path, workers, whole_word):
  flags = dict(_FLAGS, do_whole_word_mask=whole_word)
  summary = per_file.create_per_file(",".join(parts), str(tmp_path / "out"), minilm_vocab,
                                     create_pretraining_data.DataOptions(**flags),
                                     num_workers=workers)
  assert summary.written == 3 and not summary.failed
  expected = single_outputs(**flags)
  for path in parts:
    _assert_same_file(str(tmp_path / "out" / (os.path.basename(path) + ".tfrecord")),
                      expected[path])
  assert summary.instances == sum(len(_records(p)) for p in expected.values())
  assert sorted(os.listdir(str(tmp_path / "out"))) == sorted(
      os.path.basename(p) + ".tfrecord" for p in parts)


def test_per_file_output_equals_the_original_on_that_file(parts, minilm_vocab, tmp_path):
  smallest = parts[0]
  per_file.create_per_file(smallest, str(tmp_path / "out"), minilm_vocab,
                           create_pretraining_data.DataOptions(**_FLAGS), num_workers=1)
  theirs = str(tmp_path / "theirs.tfrecord")
  original.run_original_create_pretraining_data(smallest, theirs, minilm_vocab, **_FLAGS)
  ours = original.read_examples(str(tmp_path / "out" / "part-0.txt.tfrecord"))
  assert ours == original.read_examples(theirs) and len(ours) > 10


def _cli(*args, timeout=120):
  return subprocess.run([sys.executable, os.path.join(helpers.REPO, "create_pretraining_data.py")]
                        + list(args), capture_output=True, text=True, timeout=timeout)


def test_command_line_per_file_mode_imports_no_tensorflow(parts, minilm_vocab, single_outputs,
                                                          tmp_path):
  # No TensorFlow in this process, so the workers fork from it (-X importtime would reach a
  # forkserver's imports too): the data code is imported once, and TensorFlow never.
  out = tmp_path / "out"
  result = subprocess.run(
      [sys.executable, "-X", "importtime", os.path.join(helpers.REPO, "create_pretraining_data.py"),
       "--input_file=" + ",".join(parts), "--output_dir=" + str(out),
       "--vocab_file=" + minilm_vocab, "--num_workers=2", "--dupe_factor=2",
       "--max_seq_length=64", "--max_predictions_per_seq=10", "--random_seed=7"],
      capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  imports = [l for l in result.stderr.splitlines() if l.startswith("import time:")]
  assert any("bert_mlm.create_pretraining_data" in l for l in imports)
  assert len([l for l in imports if re.search(r"\|\s+bert_mlm\.tokenization$", l)]) == 1
  assert not [l for l in imports if "tensorflow" in l]
  # One progress line per file, with instances, MB/s and an ETA; then the summary.
  progress = [l for l in result.stderr.splitlines() if re.search(r"\] \[\d/3\] ", l)]
  assert len(progress) == 3 and all("instances" in l and "ETA" in l for l in progress)
  assert "Done: 3 files written, 0 skipped" in result.stderr
  expected = single_outputs(**_FLAGS)
  for path in parts:
    _assert_same_file(str(out / (os.path.basename(path) + ".tfrecord")), expected[path])


def test_command_line_flag_errors(parts, minilm_vocab, tmp_path):
  common = ["--input_file=" + parts[0], "--vocab_file=" + minilm_vocab]
  both = _cli(*common, "--output_file=" + str(tmp_path / "o"),
              "--output_dir=" + str(tmp_path / "d"))
  neither = _cli(*common)
  workers = _cli(*common, "--output_file=" + str(tmp_path / "o"), "--num_workers=2")
  for result in (both, neither, workers):
    assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "exactly one of --output_file" in both.stderr
  assert "exactly one of --output_file" in neither.stderr
  assert "--num_workers is for the per-file mode" in workers.stderr
  assert not os.path.exists(str(tmp_path / "o")) and not os.path.exists(str(tmp_path / "d"))


# --- Resume -------------------------------------------------------------------------------------


def test_rerun_skips_complete_outputs_and_overwrite_redoes_them(parts, minilm_vocab, tmp_path):
  out = str(tmp_path / "out")
  options = create_pretraining_data.DataOptions(**_FLAGS)
  first = per_file.create_per_file(parts[0], out, minilm_vocab, options, num_workers=1)
  assert first.written == 1
  done = os.path.join(out, "part-0.txt.tfrecord")
  mtime = os.stat(done).st_mtime_ns
  # A temporary left by a killed run (its pid is gone) is removed.
  stale = done + ".incomplete-999999999-0badc0de"
  with open(stale, "wb") as f:
    f.write(b"partial")
  second = per_file.create_per_file(",".join(parts), out, minilm_vocab, options,
                                    num_workers=2)
  assert (second.written, second.skipped) == (2, 1)
  assert os.stat(done).st_mtime_ns == mtime and not os.path.exists(stale)
  third = per_file.create_per_file(",".join(parts), out, minilm_vocab, options,
                                   num_workers=2, overwrite=True)
  assert (third.written, third.skipped) == (3, 0)


def test_sigkill_after_first_output_then_rerun_finishes_the_rest(english_corpus, minilm_vocab,
                                                                 tmp_path):
  documents = _documents(english_corpus)
  inputs = _write_parts(str(tmp_path / "in"), documents, [0.55, 0.15, 0.1, 0.1, 0.1])
  flags = ["--input_file=" + str(tmp_path / "in" / "*.txt"), "--vocab_file=" + minilm_vocab,
           "--num_workers=2", "--dupe_factor=3", "--max_seq_length=64",
           "--max_predictions_per_seq=10"]
  out = tmp_path / "out"
  process = subprocess.Popen(
      [sys.executable, os.path.join(helpers.REPO, "create_pretraining_data.py"),
       "--output_dir=" + str(out)] + flags, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 60
  while time.time() < deadline and not (out.exists() and any(
      n.endswith(".tfrecord") for n in os.listdir(str(out)))):
    time.sleep(0.005)
  os.kill(process.pid, signal.SIGKILL)
  process.wait()
  done_before = sorted(n for n in os.listdir(str(out)) if n.endswith(".tfrecord"))
  assert 1 <= len(done_before) < len(inputs)
  # The workers notice and stop, removing their temporaries.
  deadline = time.time() + 20
  while time.time() < deadline and any(".incomplete-" in n for n in os.listdir(str(out))):
    time.sleep(0.05)
  assert not [n for n in os.listdir(str(out)) if ".incomplete-" in n]

  rerun = _cli("--output_dir=" + str(out), *flags)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert "Done: %d files written, %d skipped" % (
      len(inputs) - len(done_before), len(done_before)) in rerun.stderr
  for name in done_before:
    assert "%s exists (complete)" % (out / name) in rerun.stderr
  per_file.create_per_file(
      str(tmp_path / "in" / "*.txt"), str(tmp_path / "uninterrupted"), minilm_vocab,
      create_pretraining_data.DataOptions(dupe_factor=3, max_seq_length=64, max_predictions_per_seq=10),
      num_workers=1)
  assert sorted(os.listdir(str(out))) == sorted(os.listdir(str(tmp_path / "uninterrupted")))
  for name in os.listdir(str(out)):
    _assert_same_file(str(out / name), str(tmp_path / "uninterrupted" / name))


# --- Failures --------------------------------------------------------------------------------


def test_failing_files_are_named_and_the_others_complete(parts, minilm_vocab, tmp_path):
  inputs = tmp_path / "in"
  inputs.mkdir()
  good = [str(inputs / "a-good.txt"), str(inputs / "d-good.txt")]
  for source, target in zip(parts[:2], good):
    with open(source, "rb") as f, open(target, "wb") as g:
      g.write(f.read())
  (inputs / "b-bad.txt").write_bytes(b"Fine first line.\nAnother one.\nBroken \xc3\x28 here.\n")
  (inputs / "c-empty.txt").write_text("\n  \n\t\n")
  out = tmp_path / "out"
  result = _cli("--input_file=%s/*.txt" % inputs, "--output_dir=" + str(out),
                "--vocab_file=" + minilm_vocab, "--num_workers=2", "--dupe_factor=2",
                "--max_seq_length=64", "--max_predictions_per_seq=10", "--random_seed=7")
  assert result.returncode == progress.FilesFailedError.exit_status == 3
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("create_pretraining_data.py: error: 2 of 4 input files failed")
  assert "b-bad.txt:3: not valid UTF-8" in last and "c-empty.txt: holds no text" in last
  assert "Traceback" not in result.stderr
  failed_lines = [l for l in result.stderr.splitlines() if " FAILED " in l]
  assert len(failed_lines) == 2
  assert sorted(os.listdir(str(out))) == ["a-good.txt.tfrecord", "d-good.txt.tfrecord"]
  expected = _single_process(good, str(tmp_path / "single"), minilm_vocab, **_FLAGS)
  for path in good:
    _assert_same_file(str(out / (os.path.basename(path) + ".tfrecord")), expected[path])


def test_in_process_failure_raises_after_the_other_files(parts, minilm_vocab, tmp_path):
  bad = tmp_path / "bad.txt"
  bad.write_bytes(b"ok\n\xff\n")
  with pytest.raises(progress.FilesFailedError, match=r"bad.txt:2: not valid UTF-8"):
    per_file.create_per_file(parts[0] + "," + str(bad), str(tmp_path / "out"),
                             minilm_vocab, create_pretraining_data.DataOptions(**_FLAGS),
                             num_workers=1)
  assert os.listdir(str(tmp_path / "out")) == ["part-0.txt.tfrecord"]


class _DyingConnection(object):
  """A worker's end of its pipe that kills the worker (as the OOM killer would) when it is
  given part-1.txt, with the file's temporary output open."""

  def __init__(self, connection):
    self._connection = connection

  def recv(self):
    job = self._connection.recv()
    if job is not None and job.input_path.endswith("part-1.txt"):
      with open(atomic.temporary_path(job.output_path), "wb") as f:
        f.write(b"partial")
      os.kill(os.getpid(), signal.SIGKILL)
    return job

  def send(self, result):
    self._connection.send(result)


_WORKER_MAIN = worker_pool._worker_main  # pylint: disable=protected-access


def _dying_worker_main(connection, *args):
  # Runs in the worker (forked, or imported there by name from a forkserver).
  _WORKER_MAIN(_DyingConnection(connection), *args)


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_worker_killed_is_a_failed_file(monkeypatch, parts, minilm_vocab, tmp_path,
                                        start_method):
  # fork: workers of a process without TensorFlow; forkserver: of one with it (gs:// paths).
  monkeypatch.setattr(worker_pool, "worker_context",
                      lambda: multiprocessing.get_context(start_method))
  monkeypatch.setattr(worker_pool, "_worker_main", _dying_worker_main)
  with pytest.raises(progress.FilesFailedError,
                     match=r"part-1.txt: its worker process was killed by SIGKILL"):
    per_file.create_per_file(",".join(parts), str(tmp_path / "out"), minilm_vocab,
                             create_pretraining_data.DataOptions(**_FLAGS), num_workers=2)
  # Its temporary, if it had opened one, is removed at once.
  assert sorted(os.listdir(str(tmp_path / "out"))) == ["part-0.txt.tfrecord",
                                                      "part-2.txt.tfrecord"]


# --- Bad input ---------------------------------------------------------------------------------


def test_same_file_name_in_two_directories(tmp_path, minilm_vocab):
  for sub in ("x", "y"):
    (tmp_path / sub).mkdir()
    (tmp_path / sub / "shard.txt").write_text("A sentence here.\nAnother one.\n")
  with pytest.raises(UsageError, match=r"x/shard.txt and .*y/shard.txt would both write"):
    per_file.create_per_file("%s/x/shard.txt,%s/y/shard.txt" % (tmp_path, tmp_path),
                             str(tmp_path / "out"), minilm_vocab,
                             create_pretraining_data.DataOptions(), num_workers=1)
  with pytest.raises(UsageError, match="names .*shard.txt twice"):
    per_file.create_per_file("%s/x/shard.txt,%s/x/*.txt" % (tmp_path, tmp_path),
                             str(tmp_path / "out"), minilm_vocab,
                             create_pretraining_data.DataOptions(), num_workers=1)
  assert not os.path.exists(str(tmp_path / "out")) or not os.listdir(str(tmp_path / "out"))


def test_file_too_big_for_the_budget_is_named_before_any_work(parts, minilm_vocab, tmp_path):
  estimate = memory_budget.MemoryEstimate(dupe_factor=10)
  _, middle, largest = sorted(parts, key=os.path.getsize)
  budget = (estimate(os.path.getsize(middle)) + estimate(os.path.getsize(largest))) / 2
  with pytest.raises(UsageError) as info:
    per_file.create_per_file(",".join(parts), str(tmp_path / "out"), minilm_vocab,
                             create_pretraining_data.DataOptions(dupe_factor=10),
                             num_workers=1, max_memory_mb=budget)
  message = str(info.value)
  assert "--max_memory_mb=%.0f" % budget in message and largest in message
  assert "shard_text.py" in message and middle not in message  # the smaller ones fit
  assert os.listdir(str(tmp_path / "out")) == []


def test_budget_below_a_workers_base(parts, minilm_vocab, tmp_path):
  with pytest.raises(UsageError, match=r"--max_memory_mb=60 is too small for this run"):
    per_file.create_per_file(",".join(parts), str(tmp_path / "out"), minilm_vocab,
                             create_pretraining_data.DataOptions(), num_workers=2,
                             max_memory_mb=60)


# --- Scheduling and the memory estimate (no processes) ---------------------------------------


def _job(name, megabytes):
  return file_jobs.FileJob(name, name + ".tfrecord", int(megabytes * 1e6))


def test_scheduler_keeps_the_estimates_in_flight_within_the_budget():
  estimate = memory_budget.MemoryEstimate(dupe_factor=5)  # 45 MB + 22.7 MB per MB
  jobs = [_job("a", 10), _job("b", 8), _job("c", 2), _job("d", 1)]  # largest first
  scheduler = memory_budget.Scheduler(jobs, num_workers=3, available_mb=500, estimate=estimate)
  assert scheduler.take() == (jobs[0], True)  # a new worker: 45 + 227 = 272 MB
  assert scheduler.take() == (jobs[1], True)  # + 45 + 182 = 499 MB; c and d don't fit
  assert scheduler.take() == (None, False)
  scheduler.finish(jobs[0], file_jobs.FileResult(jobs[0], error="x"))
  # a's worker is idle (45 MB): c runs on it (+45 MB); d needs a third worker (+45 + 23 MB).
  assert scheduler.take() == (jobs[2], False) and scheduler.take() == (jobs[3], True)
  assert scheduler.take() == (None, False)  # three workers busy
  assert scheduler.max_in_flight == 3 and scheduler.max_estimated_mb <= 500
  assert scheduler.used_mb() == pytest.approx(3 * 45 + 22.7 * 11)


def test_scheduler_stops_surplus_idle_workers_for_a_big_file():
  estimate = memory_budget.MemoryEstimate(dupe_factor=5)
  small, big = _job("s1", 1), _job("big", 10)
  scheduler = memory_budget.Scheduler([small, _job("s2", 1)], num_workers=3, available_mb=300,
                                      estimate=estimate)
  first, second = scheduler.take()[0], scheduler.take()[0]
  scheduler.finish(first, file_jobs.FileResult(first))
  scheduler.finish(second, file_jobs.FileResult(second))
  scheduler.pending.append(big)  # 2 idle workers (90 MB) + big's 227 MB > 300 MB
  assert scheduler.take() == (None, False) and scheduler.surplus_idle()
  scheduler.retire()  # one idle worker stopped: 45 + 227 fits on the other
  assert scheduler.take() == (big, False) and not scheduler.surplus_idle()


def test_estimate_is_corrected_by_reported_peaks_and_can_reject_later():
  estimate = memory_budget.MemoryEstimate(dupe_factor=10)
  prior = estimate(10e6)
  big, small = _job("big", 10), _job("small", 4)
  scheduler = memory_budget.Scheduler([big, small], num_workers=2, available_mb=300,
                                      estimate=estimate)
  assert scheduler.too_big() == [big]  # 45 + 377 MB: can't fit alone
  assert scheduler.take() == (small, True)
  # The worker measured twice the prior's rate: the estimate follows.
  scheduler.finish(small, file_jobs.FileResult(small, base_mb=30.0,
                                               peak_mb=30.0 + 4 * 75.4))
  assert estimate.base_mb == 30.0 and estimate.mb_per_text_mb == pytest.approx(75.4)
  assert estimate(10e6) > prior
  # A file too small to measure the rate on corrects the base only.
  estimate.observe(file_jobs.FileResult(_job("tiny", 0.01), base_mb=35.0, peak_mb=40.0))
  assert estimate.base_mb == 35.0 and estimate.mb_per_text_mb == pytest.approx(75.4)


# --- Remote paths ------------------------------------------------------------------------------


def test_remote_paths_go_through_gfile(parts, minilm_vocab, tmp_path):
  # TensorFlow's in-memory file system stands in for gs://: every path (inputs, vocabulary,
  # shards, outputs) is remote, so all of it goes through tf.io.gfile (in this process only:
  # ram:// is not shared with workers).
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bert_mlm.data import sharding  # pylint: disable=g-import-not-at-top
  root = "ram://test_remote_%d" % os.getpid()
  tf.io.gfile.makedirs(root + "/text")
  with open(parts[2], "rb") as f:
    corpus = f.read()
  with tf.io.gfile.GFile(root + "/text/corpus.txt", "wb") as f:
    f.write(corpus)
  tf.io.gfile.copy(minilm_vocab, root + "/vocab.txt")
  shards = sharding.shard_text(root + "/text/corpus.txt", root + "/shards", num_shards=2)
  assert shards == [root + "/shards/corpus-0000%d-of-00002.txt" % i for i in range(2)]
  summary = per_file.create_per_file(root + "/shards/*.txt", root + "/records",
                                     root + "/vocab.txt",
                                     create_pretraining_data.DataOptions(**_FLAGS), num_workers=1)
  assert summary.written == 2
  local = tmp_path / "local"
  local.mkdir()
  for shard in shards:
    with tf.io.gfile.GFile(shard, "rb") as f, open(str(local / os.path.basename(shard)),
                                                     "wb") as g:
      g.write(f.read())
  assert (local / os.path.basename(shards[0])).read_bytes() + (
      local / os.path.basename(shards[1])).read_bytes() == corpus
  expected = _single_process([str(local / os.path.basename(s)) for s in shards],
                             str(tmp_path / "single"), minilm_vocab, **_FLAGS)
  assert sorted(tf.io.gfile.listdir(root + "/records")) == sorted(
      os.path.basename(s) + ".tfrecord" for s in shards)
  for shard in shards:
    name = os.path.basename(shard)
    with tf.io.gfile.GFile(root + "/records/" + name + ".tfrecord", "rb") as f:
      ours = f.read()
    with open(expected[str(local / name)], "rb") as f:
      assert ours == f.read()
  # A rerun finds them complete.
  again = per_file.create_per_file(root + "/shards/*.txt", root + "/records",
                                   root + "/vocab.txt",
                                   create_pretraining_data.DataOptions(**_FLAGS), num_workers=1)
  assert (again.written, again.skipped) == (0, 2)


def test_workers_start_from_a_forkserver_once_tensorflow_is_loaded(monkeypatch):
  # A gs:// path loads TensorFlow, whose threads and locks a forked worker would inherit.
  monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
  assert worker_pool.worker_context().get_start_method() == "forkserver"
