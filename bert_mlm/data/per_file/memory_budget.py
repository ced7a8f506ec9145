"""Memory: what a process holds, what a file will take in a worker, and which file fits next.

A file starts only if the estimated peak of the files in flight, itself included, fits the
budget (`MemoryEstimate`: measured per MB of text and `dupe_factor`, corrected by the peaks the
workers report; `Scheduler`: which pending file starts, on which worker). A file that can't fit
even alone is an error before any work, naming it and saying to shard it.
"""

import ctypes
import os
import sys

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
# and 15 MB of RSS measured) come off the budget beside this process.
HELPER_PROCESSES_MB = 50.0
# A file corrects the per-MB figure only if its text takes this much memory above the base:
# below it the base's jitter (tokenizer cache, allocator) dominates the ratio.
_MIN_MEASURED_MB = 16.0


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


def release_memory():
  """Returns the freed heap to the system. glibc keeps it otherwise, and a long-lived worker
  (or this process, in-process) would stay at its largest file's peak."""
  if _LIBC is not None:
    _LIBC.malloc_trim(0)


def _load_libc():
  try:
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "malloc_trim") else None
  except (OSError, AttributeError):
    return None


_LIBC = _load_libc()


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
