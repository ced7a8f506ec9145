"""Worker processes that make files, at most `num_workers` at a time, within the memory budget.

Files run in worker processes (forked from this process when that is safe, else from a
forkserver, else spawned), largest first. A worker keeps its tokenizer, and so its per-word
cache, from file to file, measures each file's peak memory (VmHWM, reset per file) and returns
the freed heap to the system after each file. A worker that dies (the OOM killer) is its file's
failure; the others go on. `num_workers=1` runs every file in this process instead.
"""

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading

from absl import logging

from bert_mlm import create_pretraining_data
from bert_mlm.data.per_file import jobs
from bert_mlm.data.per_file import plan


def default_num_workers():
  """The CPUs this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


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
    connection.send(jobs.run_file(job, options, tokenizer=tokenizer, vocab_file=vocab_file))


def worker_context():
  """fork where it is safe, else forkserver, else spawn.

  fork starts a worker at once (a forkserver first starts an interpreter and imports the data
  code) and the worker shares the main process's tokenizer. It is safe only in a process with
  one thread and without TensorFlow (a gs:// path imports it, and its threads and locks would be
  copied mid-use into the child).
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


def run_in_process(scheduler, tokenizer, options, report):
  """Makes every pending file in this process, one at a time; `report` gets each result."""
  while scheduler.pending:
    for job in scheduler.too_big():
      report(_too_big_result(job, scheduler))
    job, _ = scheduler.take()
    if job is None:
      continue
    with _Quiet():
      result = jobs.run_file(job, options, tokenizer=tokenizer)
    scheduler.finish(job, result)
    report(result)


def run_pool(context, scheduler, tokenizer, vocab_file, options, report):
  """Makes every pending file on worker processes started from `context` (`worker_context`),
  as many at once as `scheduler` lets start; `report` gets each result."""
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
          result = jobs.FileResult(job, worker=process.pid, error=_died_message(job, process))
          plan.remove_stale_temporaries(os.path.dirname(job.output_path),
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
  return jobs.FileResult(job, error="%s: %.2f MB of text needs about %.0f MB in one worker (%s), "
                    "more than the %.0f MB the budget leaves for workers: shard it "
                    "(shard_text.py)." % (job.input_path, job.text_bytes / 1e6,
                                          estimate(job.text_bytes), estimate.describe(),
                                          scheduler.available_mb))
