"""The one error a user can fix, and how the command-line scripts report it.

`UsageError` (a ValueError) means the input is at fault: a flag's value, a file that is missing,
unreadable or of the wrong kind, a line that is not UTF-8, a checkpoint of another shape. Its
message names the flag, file or line, and the scripts print it as one line. Anything else is a
bug (ours or TensorFlow's) and keeps its traceback.
"""

import contextlib
import sys


class UsageError(ValueError):
  """Bad input, said in one line that names the flag, file or line at fault.

  `exit_status` is the process status a script exits with (subclasses may pick others, so a
  supervisor can tell kinds of stop apart).
  """
  exit_status = 1


@contextlib.contextmanager
def one_line_errors(program):
  """Turns a UsageError raised inside into `<program>: error: <message>` and its exit status."""
  try:
    yield
  except UsageError as e:
    print("%s: error: %s" % (program, e), file=sys.stderr)
    sys.exit(e.exit_status)
