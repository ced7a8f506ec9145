"""One file's job: an input file -> its output, made exactly as the original makes it alone.

`run_file` runs in a worker process, in this process, or in a Beam worker; a file's failure is
its `FileResult`, never an exception, so that every other file still completes.
"""

import dataclasses
import os
import time
import traceback

from bert_mlm import create_pretraining_data
from bert_mlm.data.per_file import memory_budget
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError


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
    memory_budget.reset_peak_rss()
    result.base_mb = memory_budget.rss_mb()
    result.instances = create_pretraining_data.create_file(job.input_path, job.output_path,
                                                           tokenizer, options)
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
  result.peak_mb = memory_budget.peak_rss_mb()
  memory_budget.release_memory()
  return result
