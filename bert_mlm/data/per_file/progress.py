"""Progress of a per-file run: a line per finished file with rate and ETA, the summary, failures.

A file that fails (not UTF-8, no text, a worker killed) is logged in one line with the reason,
every other file still completes, and `FilesFailedError` at the end lists the failed files.
"""

import dataclasses
import os
import time

from absl import logging

from bert_mlm.errors import UsageError

_MAX_LISTED_FAILURES = 10


class FilesFailedError(UsageError):
  """Some input files failed; every other output is complete. Exit status 3, not 1 (bad flags,
  nothing done), so a supervisor can tell a partial run apart."""
  exit_status = 3


@dataclasses.dataclass
class RunSummary:
  """What a per-file run did, as its last log line says."""
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
