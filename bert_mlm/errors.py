"""How a run stops on purpose, and how the command-line scripts report it.

`UsageError` (a ValueError) means the input is at fault: a flag's value, a file that is missing,
unreadable or of the wrong kind, a line that is not UTF-8, a checkpoint of another shape.
`Preempted` means the machine is being taken away (SIGTERM): the run saved its state and can be
rerun as it was. Their messages name the flag, file, line or step, and the scripts print them as
one line and exit with the class's status. Anything else is a bug (ours or TensorFlow's) and
keeps its traceback.

Exit statuses: 1 bad input (UsageError); 75 preempted, rerun to resume (EX_TEMPFAIL).
"""

import contextlib
import sys


class UsageError(ValueError):
  """Bad input, said in one line that names the flag, file or line at fault.

  `exit_status` is the process status a script exits with (subclasses may pick others, so a
  supervisor can tell kinds of stop apart).
  """
  exit_status = 1


class Preempted(Exception):
  """The run was asked to stop (SIGTERM) and stopped cleanly after saving its state."""
  exit_status = 75


@contextlib.contextmanager
def one_line_errors(program):
  """Turns a UsageError or Preempted raised inside into `<program>: <kind>: <message>` and the
  exception's exit status."""
  try:
    yield
  except UsageError as e:
    print("%s: error: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
  except Preempted as e:
    print("%s: preempted: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
