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

Outputs are written through `atomic` (a temporary name, renamed into place when complete).
"""

import fnmatch
import os
import re

from bert_mlm.errors import UsageError

_GLOB_CHARS = re.compile(r"[*?[]")


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
    if not gfile().exists(path):
      raise UsageError("%s %s does not exist." % (what, path))
    with gfile().GFile(path, "rb") as reader:
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


def gfile():
  """tf.io.gfile, imported on first use (local paths never need it)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


# ---------------------------------------------------------------------------------------------
# Small file-system operations, local or remote.


def exists(path):
  return gfile().exists(path) if is_remote(path) else os.path.exists(path)


def isdir(path):
  return gfile().isdir(path) if is_remote(path) else os.path.isdir(path)


def makedirs(path):
  """Creates directory `path` and its parents if missing (`mkdir -p`)."""
  if is_remote(path):
    gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def listdir(path):
  """Names (not paths) of the entries of directory `path`."""
  return list(gfile().listdir(path)) if is_remote(path) else os.listdir(path)


def size(path):
  """Size of file `path` in bytes."""
  return gfile().stat(path).length if is_remote(path) else os.path.getsize(path)


def remove(path):
  if is_remote(path):
    gfile().remove(path)
  else:
    os.remove(path)


def rename(source, destination):
  """Moves `source` to `destination`, replacing it (atomic for local files on one file system)."""
  if is_remote(source):
    gfile().rename(source, destination, overwrite=True)
  else:
    os.replace(source, destination)


def open_file(path, mode):
  """`open(path, mode)`, through `tf.io.gfile.GFile` for remote paths."""
  return gfile().GFile(path, mode) if is_remote(path) else open(path, mode)


def join(directory, name):
  """`directory/name`; for remote paths too (os.path.join is plain string work on POSIX)."""
  return directory.rstrip("/") + "/" + name if is_remote(directory) else os.path.join(
      directory, name)


def glob(pattern):
  """Paths matching `pattern`, in the order `tf.io.gfile.glob` returns them."""
  if is_remote(pattern):
    return list(gfile().glob(pattern))
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
  opener = gfile().GFile if is_remote(path) else open
  if is_remote(path):
    # Not isdir: on some filesystems (ram://) every prefix of a file's name is a "directory".
    if not gfile().exists(path):
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
