"""Cuts pretraining text into shards at document boundaries: streaming, balanced, deterministic.

Data creation holds a file's documents and all of its instances in memory, and per-file mode
runs one file per worker, so a large corpus is cut into shards first. A shard boundary is always
a document boundary (a line that is blank once stripped, as `read_documents` sees it), so each
document stays whole and the shards, read one after another, are the input's documents.

  <stem>-00000-of-00016<ext> ... <stem>-00015-of-00016<ext> in the output directory

  * Streaming: one line in memory at a time, whatever the size of the corpus.
  * Balanced by size: shard k ends at the first document boundary once the bytes written reach
    (k + 1) / N of the input's size, so each shard is within a document of its share and the
    error never accumulates.
  * Deterministic: the same input and N give the same shards, byte for byte.
  * Content: lines are copied as the original reads them: every '\\r' dropped (TensorFlow's
    line reader drops it anyway) and a '\\n' added to a last line without one; nothing else
    changes. Several input files are one stream, as in one run of the original (a document
    runs on into the next file until a blank line).
  * Outputs are written under temporary names and renamed when all are complete. If the input
    has fewer documents than N (or some are larger than a shard) there are fewer shards, named
    `-of-<that number>`, and the log says so.
"""

import math
import os
import re
import time

from absl import logging

from bert_mlm.storage import atomic
from bert_mlm.storage import file_io
from bert_mlm.errors import UsageError


def shard_names(stem, ext, count):
  return ["%s-%05d-of-%05d%s" % (stem, index, count, ext) for index in range(count)]


def _stem_and_ext(path):
  stem, ext = os.path.splitext(os.path.basename(path.rstrip("/")))
  return (stem or "shard"), (ext or ".txt")


def shard_text(input_file, output_dir, num_shards=None, shard_megabytes=None, overwrite=False):
  """Cuts the text of `input_file` (comma-separated paths or globs) into shards in `output_dir`.

  Exactly one of `num_shards` and `shard_megabytes` (MB = 1e6 bytes; the number of shards is
  then the input size over it, rounded up).

  Returns:
    The shard paths, in order.
  Raises:
    UsageError: bad flags, no input, an input that is not UTF-8 (naming the file and line) or
      holds no text, or earlier shards of the same name in `output_dir` (without `overwrite`).
  """
  if (num_shards is None) == (shard_megabytes is None):
    raise UsageError("Give exactly one of --num_shards and --shard_megabytes.")
  if num_shards is not None and num_shards < 1:
    raise UsageError("--num_shards=%d must be >= 1." % num_shards)
  if shard_megabytes is not None and shard_megabytes <= 0:
    raise UsageError("--shard_megabytes=%r must be > 0." % shard_megabytes)
  if not output_dir:
    raise UsageError("--output_dir is empty.")
  input_files = file_io.expand_patterns(input_file)
  total_bytes = sum(file_io.size(path) for path in input_files)
  if num_shards is None:
    num_shards = max(1, int(math.ceil(total_bytes / (shard_megabytes * 1e6))))
  stem, ext = _stem_and_ext(input_files[0])
  if file_io.exists(output_dir) and not file_io.isdir(output_dir):
    raise UsageError("--output_dir=%s is a file, not a directory." % output_dir)
  file_io.makedirs(output_dir)
  earlier_re = re.compile(re.escape(stem) + r"-\d{5}-of-\d{5}" + re.escape(ext) + "$")
  earlier = sorted(n for n in file_io.listdir(output_dir) if earlier_re.match(n))
  if earlier and not overwrite:
    raise UsageError("--output_dir=%s already holds shards of %s (%s, ...): remove them, use "
                     "another --output_dir, or --overwrite to replace them."
                     % (output_dir, stem, earlier[0]))
  inputs = {os.path.realpath(p) for p in input_files if not file_io.is_remote(p)}
  if any(os.path.realpath(file_io.join(output_dir, n)) in inputs for n in earlier):
    raise UsageError("--output_dir=%s: the inputs are earlier shards of the same name; write "
                     "the new shards to another directory." % output_dir)

  logging.info("Cutting %d input file%s (%.2f MB) into %d shards in %s.", len(input_files),
               "" if len(input_files) == 1 else "s", total_bytes / 1e6, num_shards, output_dir)
  temporaries = []
  writer = None
  try:
    start = time.time()
    written = 0  # bytes written to all shards so far
    shard_has_text = False
    cut_here = False  # at a document boundary past the current shard's share
    for path in input_files:
      for _, line in file_io.read_text_lines(path):
        blank = not line.strip()
        if not blank and (writer is None or cut_here):
          if writer is not None:
            writer.close()
            _log_shard(len(temporaries), num_shards, written, total_bytes, start)
          temporaries.append(atomic.temporary_path(
              file_io.join(output_dir, "%s-%05d%s" % (stem, len(temporaries), ext))))
          writer = file_io.open_file(temporaries[-1], "wb")
          shard_has_text = cut_here = False
        if writer is None:
          continue  # blank lines before the first document: no document, nothing to keep
        data = (line if line.endswith("\n") else line + "\n").encode("utf-8")
        writer.write(data)
        written += len(data)
        shard_has_text = shard_has_text or not blank
        if (blank and shard_has_text and len(temporaries) < num_shards and
            written >= len(temporaries) * total_bytes / num_shards):
          cut_here = True
    if writer is None:
      raise UsageError("--input_file=%s: the input holds no text." % input_file)
    writer.close()
    writer = None
    _log_shard(len(temporaries), num_shards, written, total_bytes, start)
    names = shard_names(stem, ext, len(temporaries))
    outputs = [file_io.join(output_dir, name) for name in names]
    for temporary, output in zip(temporaries, outputs):
      file_io.rename(temporary, output)
    temporaries = []
  finally:
    if writer is not None:
      writer.close()
    for temporary in temporaries:  # failed: no shard appears
      try:
        file_io.remove(temporary)
      except OSError:
        pass
  for name in earlier:
    if name not in names:
      file_io.remove(file_io.join(output_dir, name))
  if len(outputs) < num_shards:
    logging.warning("Only %d shards (not %d): the input has too few documents, or documents "
                    "larger than a shard, to cut it %d ways at document boundaries.",
                    len(outputs), num_shards, num_shards)
  logging.info("Wrote %d shards of %s (%.2f MB) in %.1f s: %s ... %s", len(outputs), stem,
               written / 1e6, time.time() - start, names[0], names[-1])
  return outputs


def _log_shard(done, total, written, total_bytes, start):
  elapsed = time.time() - start
  rate = written / 1e6 / elapsed if elapsed > 0 else 0.0
  eta = (total_bytes - written) / 1e6 / rate if rate > 0 else 0.0
  logging.info("Shard %d/%d done: %.1f of %.1f MB, %.1f MB/s, ETA %.0f s", done, total,
               written / 1e6, total_bytes / 1e6, rate, max(0.0, eta))
