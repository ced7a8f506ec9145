"""Training and evaluation data that break mid-run: which file, which byte, why; or skip them.

TensorFlow's readers fail deep inside a compiled loop with messages that lack what a user needs:
`corrupted record at 2007` names no file, a record of another layout fails the batched parse
naming a feature but no file. `describe` turns such an error into one phrase naming the file and,
where known, the byte offset and the reason, by looking at the input files themselves, cheaply:
the record headers up to that offset in the files long enough to hold it; for a layout error
the first record of each file, then the first 256 MiB of each. The training loop then saves a
checkpoint at the last completed step and stops with `errors.DataError` (see loop).

`--skip_corrupt_records` reads instead through `read_skipping`, a reader in Python (the
framing and both CRCs, then whether each record is a pretraining Example of this layout:
`record_layout`) that yields what tf.data.TFRecordDataset yields where nothing is broken. It
skips:
  * a record cut short or failing a CRC, and with it the rest of that file, in every pass over
    the file: a TFRecord file can't be read past a broken record (the records after it are
    counted by following their headers, where those can still be followed);
  * a record that is not a pretraining example of this layout: that record alone.
`SkippingReader` counts every record skipped, in every pass, and logs each fault the first time
it is met. A file that vanished or became unreadable still stops the run (it is not a corrupt
record), and so does a pass over every file that yields nothing (rather than spin for ever).
"""

import re

from absl import logging
import tensorflow as tf

from bert_mlm import errors
from bert_mlm.errors import UsageError
from bert_mlm.storage import tfrecord
from bert_mlm.training import record_layout

_OFFSET = re.compile(r"(?:truncated|corrupted) record at (\d+)")
# How much of each file `describe` reads looking for a record of another layout.
_LAYOUT_SCAN_BYTES = 256 << 20
# Records per element of read_skipping's Python reader.
_CHUNK = 256
# The exceptions a TFRecord reader raises on a file that is gone, unreadable or not a file.
_FILE_ERRORS = (tf.errors.NotFoundError, tf.errors.PermissionDeniedError,
                tf.errors.FailedPreconditionError, tf.errors.UnavailableError)


def is_input_error(error):
  """Whether a TensorFlow error raised by the training or evaluation loop came from its input
  pipeline (the iterator), rather than the model or the optimizer."""
  return isinstance(error, tf.errors.OpError) and "GetNext" in str(error.message)


def describe(error, input_files, layout, reader=None):
  """One phrase for an input error: `<file>: byte <offset>: <reason>` where it can be found.

  Args:
    error: a tf.errors.OpError for which `is_input_error` holds.
    input_files: every file the pipeline reads.
    layout: the record_layout.RecordLayout the records must have.
    reader: the SkippingReader the pipeline read through (--skip_corrupt_records), or None.
  """
  if reader is not None and reader.fatal:  # the skipping reader knows, TensorFlow's error not
    return ": ".join(part for part in reader.fatal if part)
  message = errors.tensorflow_reason(error)
  if isinstance(error, _FILE_ERRORS):
    path = next((p for p in input_files if p in message), None)
    if path is None:
      return "an input file can't be read (%s)" % message
    return "%s: %s" % (path, _file_reason(error, path))
  if isinstance(error, tf.errors.DataLossError):
    match = _OFFSET.search(message)
    if match:
      offset = int(match.group(1))
      # TensorFlow gives the record's offset for a broken header or a record cut short, and the
      # offset of its data (12 bytes on) for data that fail their CRC.
      found = [(path, start, reason) for path in input_files
               for start in (offset, offset - 12) for reason in [fault_at(path, start)] if reason]
      if found:
        return "; ".join("%s: byte %d: %s" % f for f in found)
      return ("a record at byte %d of one of the %d input files is broken (%s), but none of them "
              "is broken there now (replaced since?)" % (offset, len(input_files), message))
    return "an input file is corrupt (%s)" % message
  if isinstance(error, tf.errors.InvalidArgumentError):
    for path in input_files:  # a whole file of another layout shows in its first record
      try:
        record_layout.check_records([path], layout)
      except UsageError as e:
        return str(e).rstrip(".")
    found = find_record_of_another_layout(input_files, layout)
    if found:
      return "%s: byte %d: the record is not a pretraining example of %s (%s)" % (
          found + (layout.flags, message))
    return ("a record in one of the %d input files is not a pretraining example of this layout "
            "(%s); it is not in the first %d MiB of any file" % (
                len(input_files), message, _LAYOUT_SCAN_BYTES >> 20))
  return "the input pipeline failed (%s)" % message


def find_record_of_another_layout(input_files, layout):
  """(path, offset) of the first record that is not a pretraining example of `layout`, looking
  at most at the first _LAYOUT_SCAN_BYTES of each file (a whole data set may be terabytes);
  None if none is found there."""
  for path in input_files:
    try:
      size = _size(path)
      with _open(path) as reader:
        for offset, data in tfrecord.read_records(reader, size):
          if data is None or offset > _LAYOUT_SCAN_BYTES:
            break
          if layout.problem(data) is not None:
            return path, offset
    except (tf.errors.OpError, OSError):
      continue
  return None


def _size(path):
  return tf.io.gfile.stat(path).length


def _open(path):
  """A binary reader: Python's own for a local file (tf.io.gfile's calls cost microseconds
  each, its seek over a hundred), tf.io.gfile for a remote one."""
  if "://" in path:
    return tf.io.gfile.GFile(path, "rb")
  try:
    return open(path, "rb")
  except FileNotFoundError:
    raise tf.errors.NotFoundError(None, None, "%s; No such file or directory" % path) from None
  except PermissionError:
    raise tf.errors.PermissionDeniedError(None, None, "%s; Permission denied" % path) from None
  except IsADirectoryError:
    raise tf.errors.FailedPreconditionError(None, None, "%s; Is a directory" % path) from None


def fault_at(path, offset):
  """Why the record starting at byte `offset` of `path` is broken; None when `offset` is not a
  record boundary of the file, the record there is whole, or the file can't be read."""
  try:
    size = _size(path)
    if not 0 <= offset < size:
      return None
    with _open(path) as reader:
      _, position = tfrecord.walk_records(reader, size, stop=offset)
      if position != offset:
        return None  # offset is inside a record of this file, or its framing breaks earlier
      return tfrecord.record_fault(reader, offset, size)
  except (tf.errors.OpError, OSError):
    return None


class SkippingReader(object):
  """Reads files for `read_skipping`, past corrupt records and records of another layout;
  counts what it passes over and logs each fault the first time it is met.

  Attributes:
    records: records skipped so far, counted in every pass over a file (a file read three times
      with one bad record counts three). Records after a broken length field can't be told
      apart: they count as one, and their bytes in `bytes`.
    bytes: bytes skipped so far (the records dropped and the unreadable rest of files).
    fatal: None, or (path, reason) when a file vanished or became unreadable, or no file yields
      a record any more: that stops the run (it is not a corrupt record).
  """

  def __init__(self, input_files, layout):
    """layout: the record_layout.RecordLayout of the records to keep."""
    self.records = 0
    self.bytes = 0
    self.fatal = None
    self.layout = layout
    self._num_files = len(set(input_files))
    self._logged = set()
    self._empty = set()  # files whose latest pass gave no record

  def chunks(self, path):
    """Yields the usable records of `path` (bytes) in lists of up to _CHUNK (each element that
    tf.data.Dataset.from_generator takes costs a Python call), up to the first broken record;
    counts and logs what it skips.

    Raises:
      tf.errors.OpError: the file is gone or unreadable, or no file yields a record any more
        (recorded in `fatal` first).
    """
    path = path.decode("utf-8") if isinstance(path, bytes) else path
    try:
      size = _size(path)
      if tf.io.gfile.isdir(path):
        raise tf.errors.FailedPreconditionError(None, None, "%s; Is a directory" % path)
      reader = _open(path)
      reader.read(0)  # a remote reader opens on its first read
    except tf.errors.OpError as e:
      self.fatal = (path, _file_reason(e, path))
      raise
    chunk, kept, dropped, dropped_bytes, first_dropped = [], 0, 0, 0, None
    with reader:
      for offset, data in tfrecord.read_records(reader, size):
        if data is None:
          self._frame_fault(path, reader, offset, size)
          break
        if self.layout.problem(data) is not None:
          dropped += 1
          dropped_bytes += len(data) + 16
          first_dropped = offset if first_dropped is None else first_dropped
          continue
        chunk.append(data)
        kept += 1
        if len(chunk) == _CHUNK:
          yield chunk
          chunk = []
    if dropped:
      self.records += dropped
      self.bytes += dropped_bytes
      self._warn_once((path, "layout"), "%s: %d record%s (the first at byte %d) %s not "
                      "pretraining examples of %s; skipped; %d records skipped so far." % (
                          path, dropped, "" if dropped == 1 else "s", first_dropped,
                          "is" if dropped == 1 else "are", self.layout.flags, self.records))
    if kept:
      self._empty.clear()
    else:
      self._empty.add(path)
      if len(self._empty) >= self._num_files:
        # Every file's latest pass gave nothing: repeating them would spin for ever.
        self.fatal = ("", "none of the %d input files yields a usable record any more"
                      % self._num_files)
        raise tf.errors.DataLossError(None, None, self.fatal[1])
    if chunk:
      yield chunk

  def _frame_fault(self, path, reader, offset, size):
    reason = tfrecord.record_fault(reader, offset, size)
    records, lost = tfrecord.count_from_broken(reader, offset, size)
    self.records += records
    self.bytes += size - offset
    self._warn_once((path, offset), "%s: byte %d: %s; skipped the rest of the file: %d "
                    "record%s%s (%d bytes; a TFRecord file can't be read past a broken record); "
                    "%d records skipped so far." % (
                        path, offset, reason, records, "" if records == 1 else "s",
                        ", then bytes that can't be framed" if lost else "", size - offset,
                        self.records))

  def _warn_once(self, key, text):
    if key not in self._logged:
      self._logged.add(key)
      logging.warning("--skip_corrupt_records: %s", text)

  def summary(self):
    return "--skip_corrupt_records: %d records (%d bytes) skipped%s." % (
        self.records, self.bytes, "; see the warnings above" if self.records else "")


def _file_reason(error, path):
  if isinstance(error, tf.errors.NotFoundError):
    return "the file no longer exists (deleted or moved after the run started?)"
  if isinstance(error, tf.errors.PermissionDeniedError):
    return "the file can no longer be read: permission denied"
  return "the file can no longer be read (%s)" % errors.tensorflow_reason(error).replace(
      path, "").strip("; ")


def read_skipping(path, reader):
  """A file's records as tf.data.TFRecordDataset(path) reads them, without the corrupt ones
  (see the module docstring); `reader` is a SkippingReader.

  The frames are read, their CRCs checked and the Examples checked in Python: TensorFlow's
  reader under `ignore_errors` would retry a file that can't be opened for ever, and a parse
  error can't be told from a reader's inside tf.data.
  """
  return tf.data.Dataset.from_generator(
      reader.chunks, output_signature=tf.TensorSpec([None], tf.string), args=(path,)).unbatch()
