"""File access with the original's `tf.gfile` semantics, without importing TensorFlow locally.

The original reads its inputs through `tf.gfile`; what matters for identical output is:
  * `Glob` lists matches in directory order (the order `readdir` returns), not sorted, and `*`
    matches names that start with a dot. The order of input files decides the order of documents
    and so the whole random stream. (With a wildcard in a directory component TensorFlow expands
    directories in parallel and its order across directories varies from run to run; we return
    directory order at every level, one of the orders it can return.)
  * Text is split into lines on '\\n' only (U+2028 and the like stay inside a line), every '\\r'
    is dropped (TensorFlow's line reader skips it anywhere in a line, so "a\\rb" reads "ab"), and
    lines are decoded as strict UTF-8.

Local paths use Python's own I/O (importing TensorFlow alone costs seconds and hundreds of MB);
paths with a scheme (`gs://...`, or any other `tf.io.gfile` filesystem such as `ram://`) go
through `tf.io.gfile`, imported only then.

Outputs are written to a temporary name beside the final one and renamed into place when
complete (`AtomicOutputs`), so an interrupted or failed run never leaves a partial file under a
final name. A temporary is `<final name>.incomplete-<pid>-<random hex>`: the pid tells a later
run on the same machine whether its writer is still alive (`stale_temporaries`), the random part
keeps two writers on different machines (a retried Beam element) apart.
"""

import contextlib
import fnmatch
import os
import re
import secrets

from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError

_GLOB_CHARS = re.compile(r"[*?[]")
TEMPORARY_MARK = ".incomplete-"
_TEMPORARY_RE = re.compile(re.escape(TEMPORARY_MARK) + r"(\d+)(?:-[0-9a-f]+)?$")


def is_remote(path):
  """Whether `path` names a file on a `tf.io.gfile` filesystem with a scheme (`gs://bucket/x`)."""
  return "://" in path


def canonical_path(path):
  """A key under which two names of the same file compare equal (local symlinks resolved;
  a URL is its own key)."""
  return path if is_remote(path) else os.path.realpath(path)


def read_text(path, what="file"):
  """The whole UTF-8 text of `path`, local or remote (the original reads it with tf.gfile).

  Raises:
    UsageError: `path` does not exist, is a directory, or is not valid UTF-8 (naming `what` and
      the path).
  """
  if is_remote(path):
    if not _gfile().exists(path):
      raise UsageError("%s %s does not exist." % (what, path))
    with _gfile().GFile(path, "rb") as reader:
      data = reader.read()
  else:
    if os.path.isdir(path):
      raise UsageError("%s %s is a directory, not a file." % (what, path))
    try:
      with open(path, "rb") as reader:
        data = reader.read()
    except FileNotFoundError:
      raise UsageError("%s %s does not exist." % (what, path)) from None
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise UsageError("%s %s: not valid UTF-8 (byte %d)." % (what, path, e.start + 1)) from None


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


# ---------------------------------------------------------------------------------------------
# Small file-system operations, local or remote.


def exists(path):
  return _gfile().exists(path) if is_remote(path) else os.path.exists(path)


def isdir(path):
  return _gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def makedirs(path):
  """Creates directory `path` and its parents if missing (`mkdir -p`)."""
  if is_remote(path):
    _gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def listdir(path):
  """Names (not paths) of the entries of directory `path`."""
  return list(_gfile().listdir(path)) if is_remote(path) else os.listdir(path)


def size(path):
  """Size of file `path` in bytes."""
  return _gfile().stat(path).length if is_remote(path) else os.path.getsize(path)


def remove(path):
  if is_remote(path):
    _gfile().remove(path)
  else:
    os.remove(path)


def rename(source, destination):
  """Moves `source` to `destination`, replacing it (atomic for local files on one file system)."""
  if is_remote(source):
    _gfile().rename(source, destination, overwrite=True)
  else:
    os.replace(source, destination)


def open_file(path, mode):
  """`open(path, mode)`, through `tf.io.gfile.GFile` for remote paths."""
  return _gfile().GFile(path, mode) if is_remote(path) else open(path, mode)


def join(directory, name):
  """`directory/name`; for remote paths too (os.path.join is plain string work on POSIX)."""
  return directory.rstrip("/") + "/" + name if is_remote(directory) else os.path.join(
      directory, name)


def temporary_path(path):
  """A fresh temporary name beside `path` for this process (see the module docstring)."""
  return "%s%s%d-%s" % (path, TEMPORARY_MARK, os.getpid(), secrets.token_hex(4))


def stale_temporaries(directory, final_names):
  """Paths of temporaries in `directory` left by dead writers of the files `final_names`.

  A local temporary is stale when no process with its pid runs on this machine. A remote one
  (`gs://`) can't be told from a live writer on another machine, so it is never returned: it is
  ignored (never read, and replaced when its file is written).
  """
  if is_remote(directory) or not os.path.isdir(directory):
    return []
  final_names = set(final_names)
  stale = []
  for name in os.listdir(directory):
    mark = name.rfind(TEMPORARY_MARK)
    match = _TEMPORARY_RE.search(name, mark) if mark > 0 else None
    if match is None or name[:mark] not in final_names:
      continue
    if not _process_alive(int(match.group(1))):
      stale.append(os.path.join(directory, name))
  return stale


def _process_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # exists, owned by someone else
  return True


def glob(pattern):
  """Paths matching `pattern`, in the order `tf.io.gfile.glob` returns them."""
  if is_remote(pattern):
    return list(_gfile().glob(pattern))
  if not _GLOB_CHARS.search(pattern):
    return [pattern] if os.path.exists(pattern) else []
  components = pattern.split("/")
  first_wild = next(i for i, c in enumerate(components) if _GLOB_CHARS.search(c))
  # Like TensorFlow, start from the longest wildcard-free directory prefix ("." if none).
  root = "/".join(components[:first_wild]) or ("/" if pattern.startswith("/") else ".")
  components = [c for c in components[first_wild:] if c]
  matches = [root]
  for index, component in enumerate(components):
    is_last = index == len(components) - 1
    expanded = []
    for directory in matches:
      if not _GLOB_CHARS.search(component):
        candidate = os.path.join(directory, component)
        if os.path.exists(candidate):
          expanded.append(candidate)
        continue
      try:
        names = os.listdir(directory)  # directory order, as TensorFlow's GetChildren
      except (NotADirectoryError, FileNotFoundError, PermissionError):
        continue
      for name in names:
        if fnmatch.fnmatchcase(name, component):
          candidate = os.path.join(directory, name)
          if is_last or os.path.isdir(candidate):
            expanded.append(candidate)
    matches = expanded
  return matches


def expand_patterns(patterns, flag="--input_file"):
  """Comma-separated paths or globs -> files, each globbed as `glob` does, in order.

  Raises:
    UsageError: a pattern matches no file (naming the flag and the pattern).
  """
  files = []
  for pattern in patterns.split(","):
    matches = glob(pattern)
    if not matches:
      raise UsageError("%s: no file matches %r." % (flag, pattern))
    files.extend(matches)
  return files

# A line (a sentence, to the original's format) longer than this is refused: reading it whole
# would take memory without bound, and no sentence is this long. Reading is by chunks, so a
# file without newlines costs at most this much memory before the error.
MAX_LINE_BYTES = 64 << 20
_READ_CHUNK_BYTES = 1 << 20


def read_text_lines(path):
  """Yields (line_number, line) for each '\\n'-terminated line of a UTF-8 text file.

  Lines keep their trailing '\\n' and lose every '\\r' (as tf.gfile's `readline`); numbering
  starts at 1.

  Raises:
    UsageError: `path` does not exist or is a directory, a line is not valid UTF-8 (naming
      the file, line and byte offset), or longer than MAX_LINE_BYTES.
  """
  opener = _gfile().GFile if is_remote(path) else open
  if is_remote(path):
    # Not isdir: on some filesystems (ram://) every prefix of a file's name is a "directory".
    if not _gfile().exists(path):
      raise UsageError("%s: no such file." % path)
  elif not os.path.isfile(path):
    if os.path.isdir(path):
      raise UsageError("%s: is a directory, not a text file." % path)
    raise UsageError("%s: no such file." % path)
  with opener(path, "rb") as reader:
    for line_number, raw in enumerate(_bounded_lines(reader, path), 1):
      raw = raw.replace(b"\r", b"")
      try:
        yield line_number, raw.decode("utf-8")
      except UnicodeDecodeError as e:
        raise UsageError("%s:%d: not valid UTF-8 (byte %d of the line: %r)."
                         % (path, line_number, e.start + 1, raw[e.start:e.start + 4])) from None


def _bounded_lines(reader, path):
  """The '\\n'-terminated lines of a binary file, read in chunks, none longer than
  MAX_LINE_BYTES (the last may lack its '\\n')."""
  pending, pending_bytes, line_number = [], 0, 0
  while True:
    try:
      chunk = reader.read(_READ_CHUNK_BYTES)
    except OSError as e:
      raise UsageError("%s: reading failed after line %d: %s." % (
          path, line_number, e.strerror or e)) from None
    if not chunk:
      break
    lines = chunk.split(b"\n")
    for line in lines[:-1]:
      if pending:
        line = b"".join(pending) + line
        pending, pending_bytes = [], 0
      line_number += 1
      yield line + b"\n"
    if lines[-1]:
      pending.append(lines[-1])
      pending_bytes += len(lines[-1])
      if pending_bytes > MAX_LINE_BYTES:
        raise UsageError(
            "%s:%d: a line of over %d MiB without a newline; data creation reads a line (one "
            "sentence) at a time: split the text into lines (one sentence per line, a blank line "
            "between documents)." % (path, line_number + 1, MAX_LINE_BYTES >> 20))
  if pending:
    yield b"".join(pending)


class _OutputFile(object):
  """A binary output file whose write errors (a full disk, an I/O error) are WriteErrors
  naming the final path."""

  def __init__(self, f, path):
    self._f = f
    self.path = path
    self._errors = (OSError,)
    if is_remote(path):
      # tf.io.gfile raises TensorFlow's errors (already imported for a remote path).
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      self._errors += (tf.errors.OpError,)

  def write(self, data):
    try:
      return self._f.write(data)
    except self._errors as e:
      raise WriteError(_write_failure(self.path, e)) from None

  def close(self):
    try:
      self._f.close()
    except self._errors as e:
      raise WriteError(_write_failure(self.path, e)) from None


def _write_failure(path, error):
  return ("Cannot write %s: %s; nothing was written under its name (an existing file there is "
          "unchanged), and the inputs are untouched." % (
              path, getattr(error, "strerror", None) or str(getattr(error, "message", error))))


class AtomicOutputs(object):
  """Opens several binary output files under temporary names; renames them all on commit.

  Usage:
    with AtomicOutputs(paths) as files:
      files[0].write(...)
    # Here every path holds its complete content. On an exception nothing is renamed and the
    # temporary files are removed, so an existing file under a final name is left untouched.

  Raises (on entry):
    UsageError: an output name is empty or repeated, or cannot be created (naming the path).
  Raises (on a write or the commit):
    WriteError: a write failed (a full disk, an I/O error), naming the path; as for any
      exception, nothing is renamed and the temporary files are removed.
  """

  def __init__(self, paths):
    self._paths = list(paths)
    for path in self._paths:
      if not path:
        raise UsageError("An output file name is empty (check the comma-separated list).")
    if len(set(self._paths)) != len(self._paths):
      raise UsageError("An output file is named twice: %s" % ", ".join(self._paths))
    self._temporary = [temporary_path(p) for p in self._paths]
    self._files = []

  def __enter__(self):
    try:
      for path, temporary in zip(self._paths, self._temporary):
        if is_remote(path):
          self._files.append(_OutputFile(_gfile().GFile(temporary, "wb"), path))
          continue
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
          raise UsageError("Cannot write %s: directory %s does not exist." % (path, directory))
        if os.path.isdir(path):
          raise UsageError("Cannot write %s: it is a directory." % path)
        try:
          self._files.append(_OutputFile(open(temporary, "wb"), path))
        except OSError as e:
          raise UsageError("Cannot write %s: %s." % (path, e.strerror or e)) from None
    except BaseException:
      self._discard()
      raise
    return self._files

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      self._discard()
      return False
    try:
      for f in self._files:
        f.close()
      for path, temporary in zip(self._paths, self._temporary):
        if is_remote(path):
          _gfile().rename(temporary, path, overwrite=True)
        else:
          os.replace(temporary, path)
    except BaseException:
      self._discard()
      raise
    return False

  def _discard(self):
    for f in self._files:
      with contextlib.suppress(Exception):
        f.close()
    for temporary in self._temporary:
      with contextlib.suppress(Exception):
        if is_remote(temporary):
          if _gfile().exists(temporary):
            _gfile().remove(temporary)
        elif os.path.exists(temporary):
          os.remove(temporary)
