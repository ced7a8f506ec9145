"""How a run stops on purpose, and how the command-line scripts report it.

`UsageError` (a ValueError) means the input is at fault: a flag's value, a file that is missing,
unreadable or of the wrong kind, a line that is not UTF-8, a checkpoint of another shape.
One kind of it meets a long run in its middle: `DataError`, training or evaluation data that
turned out unreadable or corrupt after the run started (a record cut short or failing its CRC, a
file deleted or made unreadable, a file of another layout). Three other stops are not the
input's fault, each with its own status so that a supervisor can tell them apart: `WriteError`,
an output that could not be written (a full disk or an I/O error while saving a checkpoint or
writing TFRecords); `DivergedError`, a training loss that became NaN or infinite; `Preempted`,
the machine is being taken away (SIGTERM). Each is raised after the run kept what it could (a
checkpoint at the last completed step; the previous outputs intact) and says what was kept.
Their messages name the flag, file, line, byte offset or step, and the scripts print them as one
line and exit with the class's status. Anything else is a bug (ours or TensorFlow's) and keeps
its traceback.

Exit statuses (the sysexits.h names):
   1  bad input (UsageError), found before any step
  65  bad training/evaluation data met mid-run (DataError; EX_DATAERR): repair or remove the
      file named, or rerun with --skip_corrupt_records; the rerun resumes
  69  multi-worker: another worker was lost (killed, crashed, unreachable) or failed for a reason
      of its own (WorkerLost; EX_UNAVAILABLE): rerun every worker to resume
  70  the training loss became NaN or infinite (DivergedError; EX_SOFTWARE): rerun from the
      last good checkpoint named, with a lower learning rate (or bf16 rather than fp16)
  74  an output could not be written (WriteError; EX_IOERR): free space, rerun to resume
  75  preempted, rerun to resume (Preempted; EX_TEMPFAIL)
"""

import contextlib
import re
import sys


class UsageError(ValueError):
  """Bad input, said in one line that names the flag, file or line at fault.

  `exit_status` is the process status a script exits with (subclasses may pick others, so a
  supervisor can tell kinds of stop apart).
  """
  exit_status = 1


class DataError(UsageError):
  """Training or evaluation data that became unusable mid-run; the message names the file and,
  where known, the byte offset, and what the run saved before stopping."""
  exit_status = 65


class WriteError(Exception):
  """An output (checkpoint, TFRecord file) could not be written: disk full, I/O error, quota.

  The message names the path, the reason and what is intact (the previous checkpoint, the
  `checkpoint` state file, the existing outputs).
  """
  exit_status = 74


class DivergedError(Exception):
  """The training loss became NaN or infinite; the message names the step and the last good
  checkpoint."""
  exit_status = 70


class Preempted(Exception):
  """The run was asked to stop (SIGTERM) and stopped cleanly after saving its state."""
  exit_status = 75


class WorkerLost(Exception):
  """Multi-worker training: another worker stopped answering (killed, crashed, its machine gone)
  or stopped on an error of its own, so this one cannot go on. The message names that worker
  (task and address) and what TensorFlow or the worker reported, and the last checkpoint."""
  exit_status = 69


# What the scripts print as `<program>: error: <message>`, exiting with the class's status.
ONE_LINE_ERRORS = (UsageError, WriteError, DivergedError)


@contextlib.contextmanager
def one_line_errors(program):
  """Turns a UsageError, WriteError, DivergedError, Preempted or WorkerLost raised inside into
  `<program>: <kind>: <message>` and the exception's exit status."""
  try:
    yield
  except ONE_LINE_ERRORS as e:
    print("%s: error: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
  except Preempted as e:
    print("%s: preempted: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
  except WorkerLost as e:
    print("%s: worker lost: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)


# Lines of a TensorFlow error message that say where it happened, not what.
_WHERE = re.compile(r"^(Graph execution error:|Detected at node|<stack traces unavailable>|"
                    r"\s*\[\[|\s*$)")


def tensorflow_reason(error, os_words=False):
  """TensorFlow's own words for what failed, in one line: without node names, op names and
  stack noise. (Takes any exception; TensorFlow's errors keep their text in `.message`.)

  os_words: only the operating system's words at the end of an I/O error: "<path>; No space left
    on device" -> "No space left on device".
  """
  lines = [line for line in str(getattr(error, "message", error)).split("\n")
           if not _WHERE.match(line)]
  text = " ".join(lines) if lines else str(error)
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
  text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
  text = re.sub(r"^Error in user-defined function passed to .*?: ", "", text).strip()
  if os_words and "; " in text:
    text = text.rsplit("; ", 1)[-1]
  return text
