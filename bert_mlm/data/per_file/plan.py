"""The plan of a per-file run: input files -> `<output_dir>/<name>.tfrecord`, what to skip.

Outputs appear under their final names only when complete, so an existing output is complete
and is skipped (`overwrite` redoes it); temporaries of killed runs are removed.
"""

import dataclasses
import os

from absl import logging

from bert_mlm.data.per_file import jobs as jobs_lib
from bert_mlm.errors import UsageError
from bert_mlm.storage import atomic
from bert_mlm.storage import file_io

OUTPUT_SUFFIX = ".tfrecord"


@dataclasses.dataclass
class Plan:
  """Input files -> outputs: `jobs` to do, largest first, and `skipped` whose outputs exist."""
  jobs: list
  skipped: list


def output_name(input_path):
  """`<input file name>.tfrecord`, the per-file output's name in the output directory."""
  return os.path.basename(input_path.rstrip("/")) + OUTPUT_SUFFIX


def plan_files(input_file, output_dir, overwrite=False):
  """Expands `--input_file` and pairs each file with `<output_dir>/<its name>.tfrecord`.

  Creates `output_dir` if missing and removes the temporaries that killed runs left there.

  Raises:
    UsageError: no file matches a pattern; two inputs would write the same output (the same
      file name in two directories, or one file named twice); an output would overwrite an
      input; `output_dir` is a file or can't be created.
  """
  if not output_dir:
    raise UsageError("--output_dir is empty.")
  input_files = file_io.expand_patterns(input_file)
  by_name = {}
  for path in input_files:
    name = output_name(path)
    if name in by_name:
      if by_name[name] == path:
        raise UsageError("--input_file names %s twice; each file is processed once per run."
                         % path)
      raise UsageError(
          "--input_file: %s and %s would both write %s (each output is named after its input "
          "file): rename one, or run them into different --output_dir."
          % (by_name[name], path, file_io.join(output_dir, name)))
    by_name[name] = path
  if file_io.exists(output_dir) and not file_io.isdir(output_dir):
    raise UsageError("--output_dir=%s is a file, not a directory." % output_dir)
  try:
    file_io.makedirs(output_dir)
  except OSError as e:
    raise UsageError("Cannot create --output_dir=%s: %s." % (output_dir, e.strerror or e)) from None
  existing = set(file_io.listdir(output_dir))
  inputs = {os.path.realpath(p) for p in input_files if not file_io.is_remote(p)}
  jobs, skipped = [], []
  for name, path in by_name.items():
    output_path = file_io.join(output_dir, name)
    if not file_io.is_remote(output_path) and os.path.realpath(output_path) in inputs:
      raise UsageError("--output_dir=%s: the output %s would overwrite an input file."
                       % (output_dir, output_path))
    job = jobs_lib.FileJob(path, output_path, file_io.size(path))
    (skipped if name in existing and not overwrite else jobs).append(job)
  remove_stale_temporaries(output_dir, by_name)
  jobs.sort(key=lambda job: -job.text_bytes)  # largest first; equal sizes keep the input order
  return Plan(jobs, skipped)


def remove_stale_temporaries(output_dir, names):
  """Removes the temporaries of the outputs `names` whose writers are dead (local paths)."""
  for path in atomic.stale_temporaries(output_dir, names):
    logging.info("Removing %s, left by a writer that was killed.", path)
    try:
      file_io.remove(path)
    except OSError:
      pass  # gone already, or another run removed it
