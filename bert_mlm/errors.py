"""How a run stops on purpose, and how the command-line scripts report it.

`UsageError` (a ValueError) means the input is at fault: a flag's value, a file that is missing,
unreadable or of the wrong kind, a line that is not UTF-8, a checkpoint of another shape.
Two kinds of it meet a long run in its middle, each with its own status so that a supervisor
can tell them apart: `DataError`, training or evaluation data that turned out unreadable or
corrupt after the run started (a record cut short or failing its CRC, a file deleted or made
unreadable, a file of another layout), and `WriteError`, an output that could not be written (a
full disk or an I/O error while saving a checkpoint or writing TFRecords). Both are raised after
the run kept what it could (a checkpoint at the last completed step; the previous outputs
intact) and say what was kept. `Preempted` means the machine is being taken away (SIGTERM): the
run saved its state and can be rerun as it was. Their messages name the flag, file, line, byte
offset or step, and the scripts print them as one line and exit with the class's status.
Anything else is a bug (ours or TensorFlow's) and keeps its traceback.

Exit statuses (the sysexits.h names):
   1  bad input (UsageError), found before any step
  65  bad training/evaluation data met mid-run (DataError; EX_DATAERR): repair or remove the
      file named, or rerun with --skip_corrupt_records; the rerun resumes
  69  multi-worker: another worker was lost (killed, crashed, unreachable) or failed for a reason
      of its own (WorkerLost; EX_UNAVAILABLE): rerun every worker to resume
  74  an output could not be written (WriteError; EX_IOERR): free space, rerun to resume
  75  preempted, rerun to resume (Preempted; EX_TEMPFAIL)
"""

import contextlib
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


class WriteError(UsageError):
  """An output (checkpoint, TFRecord file) could not be written: disk full, I/O error, quota.

  The message names the path, the reason and what is intact (the previous checkpoint, the
  `checkpoint` state file, the existing outputs).
  """
  exit_status = 74


class Preempted(Exception):
  """The run was asked to stop (SIGTERM) and stopped cleanly after saving its state."""
  exit_status = 75


class WorkerLost(Exception):
  """Multi-worker training: another worker stopped answering (killed, crashed, its machine gone)
  or stopped on an error of its own, so this one cannot go on. The message names that worker
  (task and address) and what TensorFlow or the worker reported, and the last checkpoint."""
  exit_status = 69


@contextlib.contextmanager
def one_line_errors(program):
  """Turns a UsageError, Preempted or WorkerLost raised inside into `<program>: <kind>:
  <message>` and the exception's exit status."""
  try:
    yield
  except UsageError as e:
    print("%s: error: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
  except Preempted as e:
    print("%s: preempted: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
  except WorkerLost as e:
    print("%s: worker lost: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
