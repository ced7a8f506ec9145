"""Per-file data creation on every core: each input file alone -> `<output_dir>/<name>.tfrecord`.

  create_pretraining_data.py --input_file='shards/*.txt' --output_dir=out --num_workers=8 ...

The recipe for a large corpus is to cut it into shards (`shard_text`) and run the original once
per shard. This module is that recipe as one call:

  * Each file is processed exactly as the original processes that file alone with the same
    flags and seed (`create_pretraining_data.create_file`): the output for a file does not depend on
    the other files, the number of workers or the order they run in.
  * Files run in worker processes (forked from this process when that is safe, else from a
    forkserver, else spawned), largest first,
    at most `num_workers` at a time. A worker keeps its tokenizer, and so its per-word cache,
    from file to file (a cold cache costs 20-40% more CPU on 0.5 MB shards), measures each
    file's peak memory (VmHWM, reset per file) and returns the freed heap to the system after
    each file. `num_workers=1` runs in this process.
  * Memory: a file starts only if the estimated peak of the files in flight, itself included,
    fits the budget (`MemoryEstimate`: measured per MB of text and `dupe_factor`, corrected by
    the peaks the workers report). A file that can't fit even alone is an error before any
    work, naming it and saying to shard it.
  * Resume: outputs appear under their final names only when complete, so an existing output is
    complete and is skipped (`overwrite` redoes it); temporaries of killed runs are removed.
  * Failures: a file that fails (not UTF-8, no text, a worker killed) is logged in one line
    with the reason, every other file still completes, and `FilesFailedError` at the end lists
    the failed files.

No TensorFlow is imported, here or in the workers, unless a path is remote (`gs://`).
"""

import ctypes
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import traceback

from absl import logging

from bert_mlm.storage import atomic
from bert_mlm.storage import file_io
from bert_mlm import create_pretraining_data
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError

OUTPUT_SUFFIX = ".tfrecord"

# The memory prior: a worker's peak RSS for one file is about
#   base + (documents + dupe_factor * instances) MB per MB of text.
# Measured on the benchmark corpus (English prose, the 30522-token vocab; seq 128 and 512 alike):
# base 37 MB (interpreter, modules, vocabulary), documents (token ids) 6.7 MB and each pass's
# serialized instances 2.6 MB per MB of text (benchmarks/README.md). Taken about 15% higher, so
# the first files in flight, started before any worker reported, stay within the budget.
PRIOR_BASE_MB = 45.0
PRIOR_DOCUMENT_MB_PER_MB = 7.7
PRIOR_INSTANCE_MB_PER_MB = 3.0
# With workers started by a forkserver, multiprocessing's forkserver and resource tracker (32 MB
# and 15 MB of RSS measured here) come off the budget beside this process.
_HELPER_PROCESSES_MB = 50.0
# A file corrects the per-MB figure only if its text takes this much memory above the base:
# below it the base's jitter (tokenizer cache, allocator) dominates the ratio.
_MIN_MEASURED_MB = 16.0
_MAX_LISTED_FAILURES = 10


class FilesFailedError(UsageError):
  """Some input files failed; every other output is complete. Exit status 3, not 1 (bad flags,
  nothing done), so a supervisor can tell a partial run apart."""
  exit_status = 3


@dataclasses.dataclass(frozen=True)
class FileJob:
  """One input file and the output it makes."""
  input_path: str
  output_path: str
  text_bytes: int


@dataclasses.dataclass
class FileResult:
  """What a worker reports for one file. `error` is one line naming the file, None if written."""
  job: FileJob
  instances: int = 0
  seconds: float = 0.0
  base_mb: float = 0.0  # the worker's RSS before reading the file (interpreter, vocabulary)
  peak_mb: float = 0.0  # the worker's peak RSS while making this file
  cpu_seconds: float = 0.0  # CPU time of the worker on this file
  worker: int = 0  # the worker's process id
  error: str = None
  traceback: str = None  # set for errors that are not the input's fault (a bug, a crash)
  skipped: bool = False  # the output existed (Beam's workers check again before working)


@dataclasses.dataclass
class Plan:
  """Input files -> outputs: `jobs` to do, largest first, and `skipped` whose outputs exist."""
  jobs: list
  skipped: list
  output_dir: str


@dataclasses.dataclass
class RunSummary:
  files: int  # input files
  written: int
  skipped: int
  failed: list  # FileResult with an error
  instances: int
  text_bytes: int  # of the files processed this run
  seconds: float
  cpu_seconds: float  # of the files written, summed over workers
  max_worker_peak_mb: float
  mean_worker_peak_mb: float
  max_in_flight: int
  max_estimated_mb: float  # the largest estimated peak of the files in flight at once
  budget_mb: float


# ---------------------------------------------------------------------------------------------
# Planning: names, resume, stale temporaries.


def output_name(input_path):
  """`<input file name>.tfrecord`, the per-file output's name in the output directory."""
  return os.path.basename(input_path.rstrip("/")) + OUTPUT_SUFFIX


def plan_files(input_file, output_dir, overwrite=False):
  """Expands `--input_file` and pairs each file with `<output_dir>/<its name>.tfrecord`.

  Creates `output_dir` if missing and removes the temporaries that killed runs left there.

  Raises:
    UsageError: no file matches a pattern; two inputs would write the same output (the same
      file name in two directories, or one file named twice); an output would overwrite an
      input; `output_dir` is a file or can't be created.
  """
  if not output_dir:
    raise UsageError("--output_dir is empty.")
  input_files = file_io.expand_patterns(input_file)
  by_name = {}
  for path in input_files:
    name = output_name(path)
    if name in by_name:
      if by_name[name] == path:
        raise UsageError("--input_file names %s twice; each file is processed once per run."
                         % path)
      raise UsageError(
          "--input_file: %s and %s would both write %s (each output is named after its input "
          "file): rename one, or run them into different --output_dir."
          % (by_name[name], path, file_io.join(output_dir, name)))
    by_name[name] = path
  if file_io.exists(output_dir) and not file_io.isdir(output_dir):
    raise UsageError("--output_dir=%s is a file, not a directory." % output_dir)
  try:
    file_io.makedirs(output_dir)
  except OSError as e:
    raise UsageError("Cannot create --output_dir=%s: %s." % (output_dir, e.strerror or e)) from None
  existing = set(file_io.listdir(output_dir))
  inputs = {os.path.realpath(p) for p in input_files if not file_io.is_remote(p)}
  jobs, skipped = [], []
  for name, path in by_name.items():
    output_path = file_io.join(output_dir, name)
    if not file_io.is_remote(output_path) and os.path.realpath(output_path) in inputs:
      raise UsageError("--output_dir=%s: the output %s would overwrite an input file."
                       % (output_dir, output_path))
    job = FileJob(path, output_path, file_io.size(path))
    (skipped if name in existing and not overwrite else jobs).append(job)
  _remove_stale_temporaries(output_dir, by_name)
  jobs.sort(key=lambda job: -job.text_bytes)  # largest first; equal sizes keep the input order
  return Plan(jobs, skipped, output_dir)


def _remove_stale_temporaries(output_dir, names):
  """Removes the temporaries of the outputs `names` whose writers are dead (local paths)."""
  for path in atomic.stale_temporaries(output_dir, names):
    logging.info("Removing %s, left by a writer that was killed.", path)
    try:
      file_io.remove(path)
    except OSError:
      pass  # gone already, or another run removed it


# ---------------------------------------------------------------------------------------------
# Memory.


def _status_mb(field):
  """A `VmRSS`/`VmHWM` line of /proc/self/status in MB, or None where there is no /proc."""
  try:
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return None


def rss_mb():
  """This process's resident memory now, in MB."""
  value = _status_mb("VmRSS")
  return peak_rss_mb() if value is None else value


def peak_rss_mb():
  """This process's peak resident memory since it started (or since `reset_peak_rss`), in MB."""
  value = _status_mb("VmHWM")
  if value is not None:
    return value
  import resource  # pylint: disable=g-import-not-at-top
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def reset_peak_rss():
  """Starts a new peak at the current RSS (Linux: `5` into /proc/self/clear_refs); else a no-op,
  and the peak stays the process's lifetime peak."""
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
  except OSError:
    pass


def default_memory_budget_mb():
  """90% of the memory available at start (MemAvailable), else half the physical memory."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return 0.9 * int(line.split()[1]) / 1024.0
  except OSError:
    pass
  try:
    return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2.0**20
  except (ValueError, OSError, AttributeError):
    return 4096.0


def default_num_workers():
  """The CPUs this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


class MemoryEstimate(object):
  """A worker's peak memory for one file: `base_mb + mb_per_text_mb * MB of text`.

  The base is a worker between files (interpreter, vocabulary, the tokenizer's per-word cache);
  the rest is the file's documents and instances. Starts from the prior above (per MB:
  documents + dupe_factor x instances) and is corrected by every file a worker reports: the
  base becomes the largest RSS seen before a file, the per-MB figure the largest measured on a
  file big enough to measure it, so the estimate follows this corpus, vocabulary and flags, up
  or down, and errs on the high side.
  """

  def __init__(self, dupe_factor):
    self.base_mb = PRIOR_BASE_MB
    self.mb_per_text_mb = PRIOR_DOCUMENT_MB_PER_MB + PRIOR_INSTANCE_MB_PER_MB * dupe_factor
    self._base_measured = False
    self._rate_measured = False

  def __call__(self, text_bytes):
    """Peak MB of a worker (its base included) making a file of `text_bytes`."""
    return self.base_mb + self.variable_mb(text_bytes)

  def variable_mb(self, text_bytes):
    """The part above the worker's base: the file's documents and instances."""
    return self.mb_per_text_mb * text_bytes / 1e6

  def describe(self):
    return "%.0f MB + %.1f MB per MB of text (%s)" % (
        self.base_mb, self.mb_per_text_mb,
        "measured" if self._rate_measured else "prior, before any worker reported")

  def observe(self, result):
    """Corrects the estimate by a written file's measured base and peak."""
    if result.error or result.skipped or result.peak_mb <= 0:
      return
    self.base_mb = result.base_mb if not self._base_measured else max(self.base_mb,
                                                                      result.base_mb)
    self._base_measured = True
    text_mb = result.job.text_bytes / 1e6
    above_base = result.peak_mb - result.base_mb
    if text_mb > 0 and above_base >= _MIN_MEASURED_MB:
      rate = above_base / text_mb
      self.mb_per_text_mb = rate if not self._rate_measured else max(self.mb_per_text_mb, rate)
      self._rate_measured = True

  def max_text_mb(self, available_mb):
    """The largest file (MB of text) that fits `available_mb` on its own."""
    return max(0.0, (available_mb - self.base_mb) / self.mb_per_text_mb)


def too_big_message(jobs, estimate, available_mb, budget_mb):
  names = ", ".join("%s (%.2f MB of text, about %.0f MB)" % (
      job.input_path, job.text_bytes / 1e6, estimate(job.text_bytes)) for job in jobs[:5])
  more = " and %d more" % (len(jobs) - 5) if len(jobs) > 5 else ""
  shard_mb = estimate.max_text_mb(available_mb)
  if shard_mb < 0.01:
    return ("--max_memory_mb=%.0f is too small for this run: %.0f MB is left for workers, and "
            "a worker needs about %.0f MB before any text, then %.1f MB per MB of text (files: "
            "%s%s); raise --max_memory_mb." % (budget_mb, available_mb, estimate.base_mb,
                                               estimate.mb_per_text_mb, names, more))
  return ("--max_memory_mb=%.0f: too big to process in one worker within the budget: %s%s "
          "(a worker needs %s; %.0f MB of the budget is left for workers). Cut such files into "
          "shards at document boundaries, e.g. shard_text.py --input_file=%s --output_dir=... "
          "--shard_megabytes=%s, or raise --max_memory_mb."
          % (budget_mb, names, more, estimate.describe(), available_mb, jobs[0].input_path,
             ("%.0f" % shard_mb) if shard_mb >= 1 else ("%.2f" % shard_mb)))


class Scheduler(object):
  """Which file starts next, so that the worker processes stay within the budget.

  Memory in use = worker processes x the base + for each file in flight its part above the
  base. The largest pending file that fits starts: on an idle worker if its own part fits, or
  on a new worker (up to `num_workers`) if its part and a base fit. Estimates are recomputed
  as they are corrected. `available_mb` is the budget left for workers.
  """

  def __init__(self, jobs, num_workers, available_mb, estimate, processes=0):
    self.pending = list(jobs)  # largest first
    self.in_flight = []
    self.num_workers = num_workers
    self.available_mb = available_mb
    self.estimate = estimate
    self.processes = processes  # worker processes alive, busy or idle
    self.max_in_flight = 0
    self.max_estimated_mb = 0.0

  def used_mb(self):
    return self.processes * self.estimate.base_mb + sum(
        self.estimate.variable_mb(job.text_bytes) for job in self.in_flight)

  def too_big(self):
    """Removes and returns the pending files that can't fit even alone (after a correction)."""
    rejected = [j for j in self.pending if self.estimate(j.text_bytes) > self.available_mb]
    if rejected:
      self.pending = [j for j in self.pending if j not in rejected]
    return rejected

  def take(self):
    """(the next file to start, now in flight; whether it needs a new worker), or (None, False)."""
    if len(self.in_flight) >= self.num_workers:
      return None, False
    new_process = len(self.in_flight) >= self.processes  # no idle worker
    used = self.used_mb() + (self.estimate.base_mb if new_process else 0.0)
    for index, job in enumerate(self.pending):
      if used + self.estimate.variable_mb(job.text_bytes) <= self.available_mb:
        del self.pending[index]
        self.in_flight.append(job)
        self.processes += new_process
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        self.max_estimated_mb = max(self.max_estimated_mb, self.used_mb())
        return job, new_process
    return None, False

  def surplus_idle(self):
    """Whether an idle worker should stop: nothing could start, and a second idle worker's base
    is memory a pending file may need (one idle worker is where the next file would run)."""
    return bool(self.pending) and self.processes - len(self.in_flight) >= 2

  def retire(self):
    """A worker process stopped (or died)."""
    self.processes -= 1

  def finish(self, job, result):
    self.in_flight.remove(job)
    self.estimate.observe(result)


# ---------------------------------------------------------------------------------------------
# One file, in a worker or in-process.


def _one_line(text):
  return " ".join(str(text).split())


def run_file(job, options, tokenizer=None, vocab_file=None):
  """Makes one file's output; never raises for a file's failure, returns it in the result.

  The tokenizer is `tokenizer`, or loaded from `vocab_file` (a worker's first step).
  """
  result = FileResult(job, worker=os.getpid())
  start, cpu_start = time.time(), time.process_time()
  try:
    if tokenizer is None:
      tokenizer = create_pretraining_data.load_tokenizer(vocab_file, options)
    reset_peak_rss()
    result.base_mb = rss_mb()
    result.instances = create_pretraining_data.create_file(job.input_path, job.output_path, tokenizer,
                                                    options)
  except (UsageError, WriteError, OSError) as e:
    message = _one_line(e)
    result.error = message if job.input_path in message else "%s: %s" % (job.input_path,
                                                                          message)
  except Exception as e:  # pylint: disable=broad-except
    # Not the input's fault: a bug. Keep the traceback, and still let the other files finish.
    result.error = "%s: %s: %s" % (job.input_path, type(e).__name__, _one_line(e))
    result.traceback = traceback.format_exc()
  result.seconds = time.time() - start
  result.cpu_seconds = time.process_time() - cpu_start
  result.peak_mb = peak_rss_mb()
  release_memory()
  return result


def release_memory():
  """Returns the freed heap to the system. glibc keeps it otherwise, and a long-lived worker
  (or this process, in-process) would stay at its largest file's peak (281 MB after a 7 MB
  file at dupe_factor 10, 89 MB after trimming, measured)."""
  if _LIBC is not None:
    _LIBC.malloc_trim(0)


def _load_libc():
  try:
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "malloc_trim") else None
  except (OSError, AttributeError):
    return None


_LIBC = _load_libc()


def _exit_with_main(lifeline):
  """SIGTERM this worker when the main process dies, even by SIGKILL.

  Only the main process holds the write end of `lifeline`, so a read here ends (EOF) exactly
  when it exits. (A worker's parent may be the forkserver, which itself waits for its
  children, so the parent's death can't be the signal.)
  """

  def watch():
    try:
      lifeline.recv()
    except (EOFError, OSError):
      pass
    os.kill(os.getpid(), signal.SIGTERM)

  threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _terminate(signum, frame):
  del frame
  # SystemExit unwinds through AtomicOutputs, which removes the temporary output.
  sys.exit(128 + signum)


def _worker_main(connection, lifeline, vocab_file, options, tokenizer=None, inherited=()):
  """A worker process: files from `connection`, one at a time, until None; a result for each.

  The worker keeps its tokenizer, and so its per-word cache, from file to file. A forked worker
  gets the main process's tokenizer and closes `inherited`, its copies of the main process's
  pipe ends: else the lifeline would never reach EOF while a worker lives.
  """
  for end in inherited:
    end.close()
  signal.signal(signal.SIGTERM, _terminate)
  # Ctrl-C reaches the whole process group: the main process stops the workers (SIGTERM).
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  _exit_with_main(lifeline)
  logging.set_verbosity(logging.WARNING)  # the parent logs one line per file
  while True:
    try:
      job = connection.recv()
    except EOFError:
      return
    if job is None:
      return
    if tokenizer is None:
      try:
        tokenizer = create_pretraining_data.load_tokenizer(vocab_file, options)
      except Exception:  # pylint: disable=broad-except
        pass  # run_file loads it again and reports why it fails, for this file
    connection.send(run_file(job, options, tokenizer=tokenizer, vocab_file=vocab_file))


def _context():
  """fork where it is safe, else forkserver, else spawn.

  fork starts a worker at once (a forkserver first starts an interpreter and imports the data
  code) and the worker shares the main process's tokenizer. It is safe only in a process with one thread and without TensorFlow (a
  gs:// path imports it, and its threads and locks would be copied mid-use into the child).
  """
  methods = multiprocessing.get_all_start_methods()
  if ("fork" in methods and threading.active_count() == 1
      and "tensorflow" not in sys.modules):
    return multiprocessing.get_context("fork")
  if "forkserver" in methods:
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has imported the data code once (not TensorFlow), and
    # the main script: else every worker would run the script again (multiprocessing imports
    # the main module into each child it starts, unless the forkserver did already).
    context.set_forkserver_preload(["__main__", __name__])
    return context
  return multiprocessing.get_context("spawn")


class _Quiet(object):
  """absl logging at WARNING inside (in-process files: the progress line says it all)."""

  def __enter__(self):
    self._verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.WARNING)

  def __exit__(self, *exc):
    logging.set_verbosity(self._verbosity)
    return False


def _run_in_process(scheduler, tokenizer, options, report):
  while scheduler.pending:
    for job in scheduler.too_big():
      report(_too_big_result(job, scheduler))
    job, _ = scheduler.take()
    if job is None:
      continue
    with _Quiet():
      result = run_file(job, options, tokenizer=tokenizer)
    scheduler.finish(job, result)
    report(result)


def _run_pool(context, scheduler, tokenizer, vocab_file, options, report):
  forked = context.get_start_method() == "fork"
  lifeline, lifeline_writer = context.Pipe(duplex=False)  # never written: closed when we exit
  idle = []  # (process, connection) waiting for a file
  busy = {}  # connection -> (process, job)
  try:
    while scheduler.pending or busy:
      for job in scheduler.too_big():
        report(_too_big_result(job, scheduler))
      while True:
        job, new_process = scheduler.take()
        if job is None:
          if idle and scheduler.surplus_idle():
            _stop(*idle.pop())
            scheduler.retire()
            continue
          break
        if new_process:
          connection, child = context.Pipe()
          if forked:
            inherited = [lifeline_writer, connection] + list(busy) + [c for _, c in idle]
            args = (child, lifeline, vocab_file, options, tokenizer, inherited)
            sys.stdout.flush()  # else the child would write the buffered text again
            sys.stderr.flush()
          else:
            args = (child, lifeline, vocab_file, options)
          process = context.Process(target=_worker_main, args=args, name="data-worker",
                                    daemon=True)
          process.start()
          child.close()
        else:
          process, connection = idle.pop()
        connection.send(job)
        busy[connection] = (process, job)
      if not busy:
        continue
      # A connection is ready when its result arrives or its worker dies (end of file).
      for connection in multiprocessing.connection.wait(list(busy)):
        process, job = busy.pop(connection)
        try:
          result = connection.recv()
        except (EOFError, OSError):
          result = None
        if result is None:  # the worker died: its temporary output may be left
          connection.close()
          process.join()
          scheduler.retire()
          result = FileResult(job, worker=process.pid, error=_died_message(job, process))
          _remove_stale_temporaries(os.path.dirname(job.output_path),
                                    [os.path.basename(job.output_path)])
        else:
          idle.append((process, connection))
        scheduler.finish(job, result)
        report(result)
  finally:
    for process, connection in idle:
      _stop(process, connection)
    for process, _ in busy.values():  # interrupted: stop the workers (they clean up)
      process.terminate()
    for connection, (process, _) in busy.items():
      process.join(10)
      if process.is_alive():
        process.kill()
      connection.close()
    lifeline.close()
    lifeline_writer.close()


def _stop(process, connection):
  """Stops an idle worker."""
  try:
    connection.send(None)
  except OSError:
    pass
  connection.close()
  process.join(10)
  if process.is_alive():
    process.kill()


def _died_message(job, process):
  code = process.exitcode
  if code is not None and code < 0:
    try:
      name = signal.Signals(-code).name
    except ValueError:
      name = "signal %d" % -code
    how = "was killed by %s%s" % (name, " (out of memory?)" if -code == signal.SIGKILL else "")
  else:
    how = "exited with status %s without a result" % code
  return "%s: its worker process %s; nothing was written." % (job.input_path, how)


def _too_big_result(job, scheduler):
  estimate = scheduler.estimate
  return FileResult(job, error="%s: %.2f MB of text needs about %.0f MB in one worker (%s), "
                    "more than the %.0f MB the budget leaves for workers: shard it "
                    "(shard_text.py)." % (job.input_path, job.text_bytes / 1e6,
                                          estimate(job.text_bytes), estimate.describe(),
                                          scheduler.available_mb))


# ---------------------------------------------------------------------------------------------
# Progress.


def _duration(seconds):
  seconds = int(round(seconds))
  return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class Progress(object):
  """One log line per finished file (files done / total, instances, MB/s, ETA); a summary."""

  def __init__(self, jobs, num_skipped, num_workers):
    self.total_files = len(jobs)
    self.total_bytes = sum(job.text_bytes for job in jobs)
    self.num_skipped = num_skipped
    self.num_workers = num_workers
    self.start = time.time()
    self.done_files = self.done_bytes = self.instances = 0
    self.written = []
    self.failed = []
    self.peaks = []
    self.skipped_late = 0  # outputs found complete by a worker (a repeated Beam element)

  def report(self, result):
    self.done_files += 1
    self.done_bytes += result.job.text_bytes
    elapsed = time.time() - self.start
    rate = self.done_bytes / 1e6 / elapsed if elapsed > 0 else 0.0
    left = self.total_bytes - self.done_bytes
    eta = _duration(left / 1e6 / rate) if rate > 0 else "?"
    where = "[%*d/%d]" % (len(str(self.total_files)), self.done_files, self.total_files)
    overall = "%.1f/%.1f MB, %.2f MB/s, ETA %s" % (self.done_bytes / 1e6, self.total_bytes / 1e6,
                                                  rate, eta)
    if result.error:
      self.failed.append(result)
      logging.error("%s FAILED %s | %s", where, result.error, overall)
      if result.traceback:
        logging.error("%s", result.traceback)
      return
    if result.skipped:
      self.skipped_late += 1
      logging.info("%s %s: skipped, %s exists | %s", where, result.job.input_path,
                   result.job.output_path, overall)
      return
    self.instances += result.instances
    self.written.append(result)
    self.peaks.append(result.peak_mb)
    logging.info("%s %s -> %s: %d instances, %.2f MB of text in %.1f s (%.2f MB/s), worker "
                 "peak %.0f MB | %s", where, result.job.input_path,
                 os.path.basename(result.job.output_path), result.instances,
                 result.job.text_bytes / 1e6, result.seconds,
                 result.job.text_bytes / 1e6 / max(result.seconds, 1e-9), result.peak_mb, overall)

  def summary(self, scheduler=None, budget_mb=0.0):
    seconds = time.time() - self.start
    text_bytes = sum(r.job.text_bytes for r in self.written)
    summary = RunSummary(
        files=self.total_files + self.num_skipped, written=len(self.written),
        skipped=self.num_skipped + self.skipped_late, failed=list(self.failed),
        instances=self.instances, text_bytes=text_bytes, seconds=seconds,
        cpu_seconds=sum(r.cpu_seconds for r in self.written),
        max_worker_peak_mb=max(self.peaks, default=0.0),
        mean_worker_peak_mb=sum(self.peaks) / len(self.peaks) if self.peaks else 0.0,
        max_in_flight=scheduler.max_in_flight if scheduler else 0,
        max_estimated_mb=scheduler.max_estimated_mb if scheduler else 0.0, budget_mb=budget_mb)
    logging.info(
        "Done: %d files written, %d skipped (outputs existed), %d failed; %d instances from "
        "%.2f MB of text in %s (%.2f MB/s, %d worker%s, CPU %.1f s); worker peak memory max "
        "%.0f MB, mean %.0f MB%s.", summary.written, summary.skipped, len(summary.failed),
        summary.instances, text_bytes / 1e6, _duration(seconds),
        text_bytes / 1e6 / max(seconds, 1e-9), self.num_workers,
        "" if self.num_workers == 1 else "s", summary.cpu_seconds, summary.max_worker_peak_mb,
        summary.mean_worker_peak_mb,
        "" if not scheduler else "; at most %d files in flight, estimated %.0f MB of the %.0f "
        "MB budget" % (summary.max_in_flight, summary.max_estimated_mb, budget_mb))
    return summary


def raise_for_failures(summary):
  """FilesFailedError listing the failed files and why, if any failed."""
  if not summary.failed:
    return
  reasons = [r.error for r in summary.failed[:_MAX_LISTED_FAILURES]]
  if len(summary.failed) > _MAX_LISTED_FAILURES:
    reasons.append("and %d more (see the log)" % (len(summary.failed) - _MAX_LISTED_FAILURES))
  raise FilesFailedError(
      "%d of %d input files failed, so their outputs were not written (the %d others are "
      "complete; a rerun does only what is missing): %s"
      % (len(summary.failed), summary.files, summary.files - len(summary.failed),
         " | ".join(reasons)))


# ---------------------------------------------------------------------------------------------
# The job.


def create_per_file(input_file, output_dir, vocab_file, options, num_workers=None,
                    max_memory_mb=None, overwrite=False):
  """Every input file on its own -> `<output_dir>/<input file name>.tfrecord`, in parallel.

  Args:
    input_file: comma-separated paths or globs (`--input_file`).
    output_dir: where the outputs go; created if missing.
    vocab_file, options: as for `create_pretraining_data.create_pretraining_data`.
    num_workers: worker processes (default: the CPUs); 1 runs every file in this process.
    max_memory_mb: the memory budget of the whole run (default: 90% of the available memory).
    overwrite: redo files whose outputs exist (by default they are complete and skipped).
  Returns:
    A RunSummary.
  Raises:
    UsageError: bad flags, inputs or vocabulary, or a file too big for the budget (before any
      work); FilesFailedError (a UsageError) after the run if some files failed.

  As with any multiprocessing code, a script that calls this with `num_workers` > 1 does so
  under `if __name__ == "__main__":` (workers import the main module).
  """
  options.validate()
  if num_workers is None:
    num_workers = default_num_workers()
  if num_workers < 1:
    raise UsageError("--num_workers=%d must be >= 1." % num_workers)
  if max_memory_mb is None:
    max_memory_mb = default_memory_budget_mb()
  if max_memory_mb <= 0:
    raise UsageError("--max_memory_mb=%r must be > 0." % max_memory_mb)
  # The vocabulary is checked here, once, before any worker starts.
  tokenizer = create_pretraining_data.load_tokenizer(vocab_file, options)
  plan = plan_files(input_file, output_dir, overwrite)
  num_workers = max(1, min(num_workers, len(plan.jobs)))
  estimate = MemoryEstimate(options.dupe_factor)
  # In-process, the estimate's base is this process. With workers, this process and the
  # helper processes come off the budget first.
  available_mb = max_memory_mb
  context = _context() if num_workers > 1 else None
  if context is not None:
    available_mb -= rss_mb() + (0.0 if context.get_start_method() == "fork"
                                else _HELPER_PROCESSES_MB)
  too_big = [job for job in plan.jobs if estimate(job.text_bytes) > available_mb]
  if too_big:
    raise UsageError(too_big_message(too_big, estimate, available_mb, max_memory_mb))

  logging.info("%d input files -> %s: %d to do (%.2f MB of text, largest %.2f MB), %d skipped "
               "(outputs exist%s); %d worker%s, memory budget %.0f MB, a worker needs about %s.",
               len(plan.jobs) + len(plan.skipped), output_dir, len(plan.jobs),
               sum(j.text_bytes for j in plan.jobs) / 1e6,
               plan.jobs[0].text_bytes / 1e6 if plan.jobs else 0.0, len(plan.skipped),
               "; --overwrite redoes them" if plan.skipped else "", num_workers,
               "" if num_workers == 1 else "s", max_memory_mb, estimate.describe())
  for job in plan.skipped:
    logging.info("Skipped %s: %s exists (complete).", job.input_path, job.output_path)
  progress = Progress(plan.jobs, len(plan.skipped), num_workers)
  # In-process, this process is the one worker, alive from the start.
  scheduler = Scheduler(plan.jobs, num_workers, available_mb, estimate,
                        processes=1 if num_workers == 1 else 0)
  if num_workers == 1:
    _run_in_process(scheduler, tokenizer, options, progress.report)
  else:
    _run_pool(context, scheduler, tokenizer, vocab_file, options, progress.report)
  summary = progress.summary(scheduler, max_memory_mb)
  raise_for_failures(summary)
  return summary
