"""Outputs written under a temporary name and renamed into place when complete.

Every output of bert-mlm (TFRecords, vocabularies, checkpoints, the `checkpoint` state file,
eval_results.txt, Hugging Face directories, SavedModels) is written this way, so an interrupted
or failed run never leaves a partial file under a final name, and an existing output is replaced
only by a complete one. Local paths use Python's own I/O (no TensorFlow import on the data
side); paths with a scheme (`gs://...`, `ram://...`) go through `tf.io.gfile`.

One temporary-name scheme: `<final name>.incomplete-<pid>-<random hex>`, beside the final name
(a checkpoint, whose files one TensorFlow op writes under a prefix: `<prefix>.incomplete-<pid>-
<hex>.index` etc.). The pid tells a later run on the same machine whether the writer is still
alive (`stale_temporaries`); the random part keeps two writers on different machines (a retried
Beam element) apart; `*.incomplete-*` is what .gitignore and a user's cleanup look for.

  AtomicOutputs(paths)     several binary files, all renamed at the end of a `with` block
  write_text(path, text)   one text file (state files, results)
  file_set(prefix, ...)    the files a TensorFlow op writes under a prefix (a checkpoint)
  directory(path)          a directory's files (a SavedModel, a Hugging Face model)
"""

import contextlib
import os
import re
import secrets
import shutil

from bert_mlm import errors
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError
from bert_mlm.storage import file_io

TEMPORARY_MARK = ".incomplete-"
_TEMPORARY_RE = re.compile(re.escape(TEMPORARY_MARK) + r"(\d+)(?:-[0-9a-f]+)?$")


def temporary_path(path):
  """A fresh temporary name beside `path` for this process (see the module docstring)."""
  return "%s%s%d-%s" % (path, TEMPORARY_MARK, os.getpid(), secrets.token_hex(4))


def stale_temporaries(directory, final_names):
  """Paths of temporaries in `directory` left by dead writers of the files `final_names`.

  A local temporary is stale when no process with its pid runs on this machine. A remote one
  (`gs://`) can't be told from a live writer on another machine, so it is never returned: it is
  ignored (never read, and replaced when its file is written).
  """
  if file_io.is_remote(directory) or not os.path.isdir(directory):
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


def _write_errors(path):
  """What writing `path` raises on a full disk or an I/O error."""
  if file_io.is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top  (already imported for a URL)
    return (OSError, tf.errors.OpError)
  return (OSError,)


def _reason(error):
  """The operating system's words for a failed write ("No space left on device")."""
  return getattr(error, "strerror", None) or errors.tensorflow_reason(error, os_words=True)


def remove_quietly(paths):
  """Removes the files (or directory trees) that exist among `paths`, ignoring failures:
  cleanup after a failure must not hide it."""
  for path in paths:
    with contextlib.suppress(Exception):
      if file_io.is_remote(path):
        if file_io.isdir(path):
          file_io.gfile().rmtree(path)
        elif file_io.exists(path):
          file_io.remove(path)
      elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
      elif os.path.lexists(path):
        os.remove(path)


def write_text(path, text):
  """Writes UTF-8 `text` to `path` under a temporary name, then renames it into place: a reader
  sees the old file or the new one, never part of one.

  Raises:
    WriteError: "Cannot write <path>: <reason>"; the temporary is removed, `path` untouched.
  """
  temporary = temporary_path(path)
  try:
    with file_io.open_file(temporary, "wb") as f:
      f.write(text.encode("utf-8"))
    file_io.rename(temporary, path)
  except _write_errors(path) as e:
    remove_quietly([temporary])
    raise WriteError("Cannot write %s: %s" % (path, _reason(e))) from None


@contextlib.contextmanager
def file_set(prefix, suffixes):
  """Yields a temporary prefix to write the files `<temporary><suffix>` under (one TensorFlow op
  writes a checkpoint's); when the block completes they are renamed to `<prefix><suffix>` in the
  order of `suffixes`, so the last (the one readers look for) appears only when the others are
  in place. On an exception the temporary files are removed and nothing under `prefix` was
  touched.
  """
  temporary = temporary_path(prefix)
  try:
    yield temporary
    # A rename within a directory needs no space; should one fail, the last file is not in
    # place, so no reader takes the others for a complete set.
    for suffix in suffixes:
      file_io.rename(temporary + suffix, prefix + suffix)
  except BaseException:
    remove_quietly(file_io.glob(temporary + "*"))
    raise


@contextlib.contextmanager
def directory(path, last=None):
  """Yields a temporary directory beside `path` to fill; when the block completes, its files
  take their places in `path`.

    local    a missing or empty `path` is replaced by it in one rename; otherwise each of its
             files replaces its namesake in `path` (other files there stay: a caller that
             replaces a whole directory removes what it does not want first)
    remote   (an object store has no directories to rename) each file is renamed to its place,
             `last` (a name relative to the directory) last: readers look for it

  On an exception the temporary directory is removed and `path` is untouched.

  Raises:
    UsageError: the temporary directory can't be created beside `path` (naming the reason).
  """
  temporary = temporary_path(path.rstrip("/"))
  try:
    file_io.makedirs(temporary)
  except _write_errors(path) as e:
    raise UsageError("Cannot write %s: %s." % (path, _reason(e))) from None
  try:
    yield temporary
    if not file_io.is_remote(path) and (not os.path.isdir(path) or not os.listdir(path)):
      os.replace(temporary, path)  # onto an empty directory too (POSIX rename)
      return
    names = sorted(_relative_files(temporary), key=lambda name: name == last)
    for name in names:
      target = file_io.join(path, name)
      file_io.makedirs(os.path.dirname(target))
      file_io.rename(file_io.join(temporary, name), target)
  finally:
    remove_quietly([temporary])


def _relative_files(directory):
  """The files under `directory`, as paths relative to it."""
  walk = file_io.gfile().walk(directory) if file_io.is_remote(directory) else os.walk(directory)
  start = len(directory.rstrip("/")) + 1
  return [(root.rstrip("/") + "/" + name)[start:] for root, _, names in walk for name in names]


class _OutputFile(object):
  """A binary output file whose write errors (a full disk, an I/O error) are WriteErrors
  naming the final path."""

  def __init__(self, f, path):
    self._f = f
    self.path = path
    self._errors = _write_errors(path)

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
          "unchanged), and the inputs are untouched." % (path, _reason(error)))


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
        if file_io.is_remote(path):
          self._files.append(_OutputFile(file_io.open_file(temporary, "wb"), path))
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
        file_io.rename(temporary, path)
    except BaseException:
      self._discard()
      raise
    return False

  def _discard(self):
    for f in self._files:
      with contextlib.suppress(Exception):
        f.close()
    remove_quietly(self._temporary)
