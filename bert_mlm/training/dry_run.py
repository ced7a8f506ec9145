"""--dry_run: a command line's flags, config and files checked without running the job.

What is checked depends on where each path lives:
  local path    read as the real run reads it: the config parsed and validated, the vocabulary
                (its special tokens; its size against the config's vocab_size), each input
                pattern expanded, the first record of each TFRecord file checked against
                --max_seq_length and --max_predictions_per_seq, --init_checkpoint resolved and
                its index read, the output directory (or its nearest existing parent) writable
  URL (gs://)   its form only (a scheme, then a bucket; a gs:// bucket name as Cloud Storage
                allows it, so a placeholder left in a recipe is caught): a dry run contacts no
                remote filesystem, so it runs anywhere in seconds (a laptop without credentials,
                a test); the real run reads these before its first step
Then the options are validated as the real run validates them, with the replica count the
strategy would have (--num_tpu_cores on a TPU, the GPUs this machine sees for mirrored). Nothing
is written and no model is built; the log ends with what was checked and what was not.

The data side's check imports no TensorFlow (as data creation itself, for local files).
"""

import dataclasses
import os
import re

from absl import logging

from bert_mlm import config as config_lib
from bert_mlm.storage import file_io
from bert_mlm import tokenization
from bert_mlm.errors import UsageError

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://([^/]*)(/.*)?$")
# Cloud Storage bucket names: 3-63 of lowercase letters, digits, '-', '_', '.', starting and
# ending with a letter or digit (longer dotted names exist; they are rare and pass too).
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_SPECIAL_TOKENS = (tokenization.CLS_TOKEN, tokenization.SEP_TOKEN, tokenization.MASK_TOKEN,
                   tokenization.UNK_TOKEN)


class _Report(object):
  """What a dry run checked and what it left to the real run, logged at the end."""

  def __init__(self, program):
    self.program = program
    self.checked = []
    self.not_contacted = []

  def check_url(self, flag, url):
    """Raises UsageError unless `url` has the form of a URL on a tf.io.gfile filesystem."""
    match = _SCHEME.match(url)
    if not match or not match.group(2):
      raise UsageError("--%s=%s is not a URL of the form scheme://bucket/path." % (flag, url))
    scheme, bucket = match.group(1), match.group(2)
    if scheme == "gs" and not _GCS_BUCKET.match(bucket):
      raise UsageError("--%s=%s: %r is not a Cloud Storage bucket name (lowercase letters, "
                       "digits, '-', '_', '.'; was a placeholder left in?)." % (flag, url, bucket))
    self.not_contacted.append("--%s=%s" % (flag, url))

  def log(self):
    logging.info("%s dry run: checked %s.", self.program, "; ".join(self.checked) or "flags only")
    if self.not_contacted:
      logging.info("%s dry run: not contacted (a URL's form only; the real run opens them): "
                   "%s.", self.program, ", ".join(self.not_contacted))
    logging.info("%s dry run: OK. Nothing was run or written.", self.program)


def _check_output_dir(flag, path):
  """A local output directory exists (as a directory) or can be created."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise UsageError("--%s=%s is a file, not a directory." % (flag, path))
  parent = os.path.abspath(path)
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
    raise UsageError("--%s=%s cannot be created: %s is not a writable directory."
                     % (flag, path, parent))


def _check_output_file(flag, path):
  """A local output file's directory exists and the name is not a directory (as the real run
  requires: data creation does not create directories)."""
  directory = os.path.dirname(path) or "."
  if not os.path.isdir(directory):
    raise UsageError("--%s: cannot write %s: directory %s does not exist." % (flag, path,
                                                                              directory))
  if os.path.isdir(path):
    raise UsageError("--%s: cannot write %s: it is a directory." % (flag, path))
  if not os.access(directory, os.W_OK | os.X_OK):
    raise UsageError("--%s: cannot write %s: directory %s is not writable." % (flag, path,
                                                                              directory))


def _input_files(report, flag, patterns):
  """The local files matching the comma-separated `patterns` (URL patterns: form only)."""
  files = []
  for pattern in patterns.split(","):
    if file_io.is_remote(pattern):
      report.check_url(flag, pattern)
    else:
      files.extend(file_io.expand_patterns(pattern, flag="--" + flag))
  return files


def check_data_creation(input_file, output_file, vocab_file, options, output_dir=None):
  """create_pretraining_data.py --dry_run: options, vocabulary, inputs and outputs.

  Args:
    input_file, output_file: the comma-separated flags, as given; output_file is None in the
      per-file mode, where `output_dir` is given instead.
    vocab_file: the vocabulary path.
    options: a pretraining_data.DataOptions.
  Raises:
    UsageError: naming the flag or file that would make the real run fail.
  """
  report = _Report("create_pretraining_data.py")
  options.validate()
  report.checked.append("the data options")
  if file_io.is_remote(vocab_file):
    report.check_url("vocab_file", vocab_file)
  else:
    vocab = tokenization.load_vocab(vocab_file)
    tokenization.require_tokens(vocab, _SPECIAL_TOKENS, vocab_file)
    report.checked.append("the vocabulary (%d tokens)" % len(vocab))
  files = _input_files(report, "input_file", input_file)
  if files:
    report.checked.append("%d local input file(s)" % len(files))
  if output_dir is not None:
    if file_io.is_remote(output_dir):
      report.check_url("output_dir", output_dir)
    else:
      _check_output_dir("output_dir", output_dir)
      report.checked.append("the output directory")
    report.log()
    return
  outputs = output_file.split(",")
  if len(set(outputs)) != len(outputs) or not all(outputs):
    raise UsageError("--output_file: a name is empty or repeated: %s" % output_file)
  local = [path for path in outputs if not file_io.is_remote(path)]
  for path in outputs:
    if file_io.is_remote(path):
      report.check_url("output_file", path)
    else:
      _check_output_file("output_file", path)
  if local:
    report.checked.append("%d local output location(s)" % len(local))
  clobbered = set(map(file_io.canonical_path, files)) & set(map(file_io.canonical_path, local))
  if clobbered:
    raise UsageError("--output_file would overwrite the input file %s." % sorted(clobbered)[0])
  report.log()


def _num_replicas(strategy_name, num_tpu_cores):
  """The replicas the named strategy would have here, without creating it (or None)."""
  if strategy_name == "tpu":
    return num_tpu_cores
  if strategy_name == "multi_worker_mirrored":
    return None  # the cluster's devices, known only once it is up
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  gpus = len(tf.config.list_physical_devices("GPU"))
  if strategy_name == "mirrored" or (not strategy_name and gpus > 1):
    return max(gpus, 1)
  return 1


def check_pretraining(options, bert_config_file, vocab_file, input_file, strategy_name,
                      num_tpu_cores):
  """run_pretraining.py --dry_run: config, vocabulary, records, checkpoints, output, options.

  Args:
    options: a loop.PretrainingOptions; its `bert_config` and `input_files` are read here
      (from `bert_config_file` and `input_file`, where local).
    bert_config_file, vocab_file (may be empty), input_file: the flags, as given.
    strategy_name: from `distribute.strategy_name` (already checked against the tpu flags).
    num_tpu_cores: the flag.
  Raises:
    UsageError: naming the flag or file that would make the real run fail.
  """
  # Imported here: the data side's checks above import no TensorFlow.
  from bert_mlm.storage import checkpoints  # pylint: disable=g-import-not-at-top
  from bert_mlm.training import record_layout  # pylint: disable=g-import-not-at-top
  report = _Report("run_pretraining.py")
  bert_config = None
  if file_io.is_remote(bert_config_file):
    report.check_url("bert_config_file", bert_config_file)
  else:
    bert_config = config_lib.BertConfig.from_json_file(bert_config_file)
    report.checked.append("the BERT config")
  if vocab_file and file_io.is_remote(vocab_file):
    report.check_url("vocab_file", vocab_file)
  elif vocab_file and bert_config is not None:
    config_lib.check_vocab_size(bert_config, vocab_file)
    report.checked.append("the vocabulary's size")
  elif vocab_file:
    tokenization.load_vocab(vocab_file)
    report.checked.append("the vocabulary (not its size: the config is remote)")
  files = _input_files(report, "input_file", input_file)
  if files:
    record_layout.check_records(files, record_layout.RecordLayout(
        options.max_seq_length, options.max_predictions_per_seq,
        masked=options.dynamic_masking is None))
    report.checked.append("%d local TFRecord file(s) (first record's feature lengths)"
                          % len(files))
  if file_io.is_remote(options.output_dir):
    report.check_url("output_dir", options.output_dir)
  else:
    _check_output_dir("output_dir", options.output_dir)
    report.checked.append("the output directory")
  if options.init_checkpoint and file_io.is_remote(options.init_checkpoint):
    report.check_url("init_checkpoint", options.init_checkpoint)
  elif options.init_checkpoint:
    reader = checkpoints.CheckpointReader(options.init_checkpoint)
    report.checked.append("the init checkpoint %s (found, not compared with the model)"
                          % reader.path)
  options = dataclasses.replace(options, bert_config=bert_config, input_files=files)
  num_replicas = _num_replicas(strategy_name, num_tpu_cores)
  options.validate(num_replicas or 1, on_tpu=strategy_name == "tpu")
  report.checked.append("the options%s" % (
      " (batch sizes against %d replica(s))" % num_replicas if num_replicas
      else " (not the batch sizes against the cluster's replicas)"))
  report.log()


def check_strip(input_checkpoint, output_checkpoint):
  """strip_checkpoint.py --dry_run: the input resolves to a readable checkpoint, the output's
  directory can be written (local), or the URLs' form."""
  from bert_mlm.storage import checkpoints  # pylint: disable=g-import-not-at-top
  report = _Report("strip_checkpoint.py")
  if file_io.is_remote(input_checkpoint):
    report.check_url("input_checkpoint", input_checkpoint)
  else:
    reader = checkpoints.CheckpointReader(input_checkpoint)
    report.checked.append("the input checkpoint %s" % reader.path)
  if file_io.is_remote(output_checkpoint):
    report.check_url("output_checkpoint", output_checkpoint)
  else:
    _check_output_dir("output_checkpoint", os.path.dirname(output_checkpoint) or ".")
    report.checked.append("the output's directory")
  report.log()
