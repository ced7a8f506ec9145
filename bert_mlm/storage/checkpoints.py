"""Checkpoints in the original's TF1 format, both ways, by variable name.

Our variables' Keras paths are the original's TF1 names, so reading is `tf.train.load_checkpoint`
plus a name lookup, and writing is a {name: tensor} map saved with `SaveV2`: the same
`<prefix>.index` + `<prefix>.data-00000-of-00001` files a TF1 `tf.train.Saver` writes, which the
original's code, its `init_from_checkpoint` and every converter built for it read unchanged.

One format for everything: released weights (`bert_model.ckpt`), init checkpoints and training
checkpoints (`model.ckpt-<step>` with `global_step` and the optimizer slots
`<name>/adam_m`, `<name>/adam_v`).

A save is atomic (`storage.atomic`): one that fails (a full disk, an I/O error) removes its
temporary files and raises `WriteError`, and nothing under the final name was touched. The
`checkpoint` state file is read here (a directory names its latest checkpoint); a training run's
rotation, state file writes and resume are `training.checkpoint_manager`.
"""

import os

from absl import logging
from google.protobuf import text_format
import tensorflow as tf

from tensorflow.python.training import checkpoint_state_pb2

from bert_mlm import errors
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError
from bert_mlm.storage import atomic
from bert_mlm.storage import file_io

WORD_EMBEDDINGS = "bert/embeddings/word_embeddings"
GLOBAL_STEP = "global_step"
SLOT_SUFFIXES = ("adam_m", "adam_v")
# A checkpoint's files, the index last: it is what readers look for.
FILE_SUFFIXES = (".data-00000-of-00001", ".index")
# What TensorFlow's checkpoint reader raises on a truncated or corrupt file.
_READ_ERRORS = (tf.errors.OpError, ValueError, IndexError, RuntimeError)


class UnreadableCheckpoint(UsageError):
  """A checkpoint whose files are truncated or corrupt (as opposed to one that reads but does
  not fit the model)."""


def _is_absolute(path):
  """A local absolute path or a URL (`gs://bucket/x`): not relative to a checkpoint directory."""
  return file_io.is_remote(path) or os.path.isabs(path)


def read_checkpoint_state(directory):
  """The prefixes listed in `directory/checkpoint`, oldest first and the latest last; [] if none.

  The text format of TF1's CheckpointState. Relative names are joined to `directory`; absolute
  ones (the Estimator writes them, `gs://...` on a bucket) are kept as they are, which
  `tf.train.get_checkpoint_state` gets wrong for URLs (it joins `gs://b/out/gs://b/out/...`).
  """
  path = os.path.join(directory, "checkpoint")
  if not tf.io.gfile.exists(path):
    return []
  state = checkpoint_state_pb2.CheckpointState()
  try:
    with tf.io.gfile.GFile(path, "r") as reader:
      text_format.Merge(reader.read(), state)
  except (text_format.ParseError, UnicodeDecodeError) as e:
    raise UsageError("%s is not a checkpoint state file: %s" % (path, e)) from None
  names = [p for p in state.all_model_checkpoint_paths if p != state.model_checkpoint_path]
  if state.model_checkpoint_path:
    names.append(state.model_checkpoint_path)
  return [p if _is_absolute(p) else os.path.join(directory, p) for p in names]


def latest_checkpoint(directory):
  """The latest checkpoint named by `directory/checkpoint` if its files exist, else None."""
  prefixes = read_checkpoint_state(directory)
  if prefixes and tf.io.gfile.exists(prefixes[-1] + ".index"):
    return prefixes[-1]
  if prefixes:
    logging.warning("%s/checkpoint names %s, which does not exist.", directory, prefixes[-1])
  return None


def _resolve(path):
  """A checkpoint prefix from a prefix or a directory with a `checkpoint` state file.

  The prefix is tried first: on some filesystems (`ram://`) `tf.io.gfile.isdir` is true for
  any prefix of a file's name, so `model.ckpt-5` would pass for a directory.
  """
  if tf.io.gfile.exists(path + ".index"):
    return path
  if tf.io.gfile.exists(os.path.join(path, "checkpoint")):
    latest = latest_checkpoint(path)
    if latest is None:
      raise UsageError("Checkpoint directory %s holds no checkpoint: its `checkpoint` file names "
                       "one that does not exist." % path)
    return latest
  if tf.io.gfile.isdir(path):
    raise UsageError("Checkpoint directory %s holds no checkpoint (no `checkpoint` file)." % path)
  raise UsageError("Checkpoint %s does not exist (no %s.index)." % (path, path))


class CheckpointReader(object):
  """Reads a TF1-format checkpoint by name, with errors that name the file."""

  def __init__(self, path):
    self.path = _resolve(path)
    try:
      # Not tf.train.load_checkpoint: it takes a prefix that `isdir` calls a directory (ram://)
      # for one and looks for a `checkpoint` file inside.
      self._reader = tf.compat.v1.train.NewCheckpointReader(self.path)
      self.shapes = {name: tuple(shape) for name, shape in
                     self._reader.get_variable_to_shape_map().items()}
    except _READ_ERRORS as e:
      raise UnreadableCheckpoint("Checkpoint %s cannot be read (truncated or corrupt?): %s"
                                 % (self.path, errors.tensorflow_reason(e))) from None

  def read(self, name):
    try:
      return self._reader.get_tensor(name)
    except _READ_ERRORS as e:
      raise UnreadableCheckpoint(
          "Checkpoint %s: variable %s cannot be read (truncated or corrupt?): %s"
          % (self.path, name, errors.tensorflow_reason(e))) from None


def load_checkpoint(variables, path):
  """Loads every variable whose name is in the checkpoint; the rest keep their values.

  The original's `init_checkpoint` semantics (assignment map by name). Each variable is logged
  with `*INIT_FROM_CKPT*` when loaded, as the original logs them. Shapes are checked before any
  variable is assigned, so a mismatch leaves the model untouched.

  Args:
    variables: {TF1 name: tf.Variable}.
    path: checkpoint prefix, or a directory with a `checkpoint` state file.
  Returns:
    The sorted names that were loaded.
  Raises:
    UsageError: no checkpoint at `path`, a name's shape differs (naming it and both shapes),
      or the file is corrupt.
  """
  reader = CheckpointReader(path)
  matched = check_shapes(variables, reader)
  values = {name: reader.read(name) for name in matched}
  for name in matched:
    variables[name].assign(values[name])
  logging.info("**** Variables (loaded from %s) ****", reader.path)
  for name, variable in variables.items():
    logging.info("  name = %s, shape = %s%s", name, list(variable.shape),
                 ", *INIT_FROM_CKPT*" if name in values else "")
  unused = sorted(set(reader.shapes) - set(variables))
  if unused:
    logging.info("%d checkpoint names not loaded (e.g. %s).", len(unused), ", ".join(unused[:3]))
  return matched


def check_shapes(variables, reader):
  """The sorted names shared by `variables` and the checkpoint; raises if a shape differs."""
  matched = sorted(name for name in variables if name in reader.shapes)
  mismatched = [name for name in matched if reader.shapes[name] != tuple(variables[name].shape)]
  if mismatched:
    # The embedding table first: a vocab_size mismatch is the usual cause and says most.
    name = WORD_EMBEDDINGS if WORD_EMBEDDINGS in mismatched else mismatched[0]
    expected = tuple(variables[name].shape)
    hint = ""
    if name == WORD_EMBEDDINGS and reader.shapes[name][1:] == expected[1:]:
      hint = (" The checkpoint's vocabulary has %d tokens but the config's vocab_size is %d."
              % (reader.shapes[name][0], expected[0]))
    raise UsageError("Checkpoint %s: %s has shape %s but the model's has shape %s (%d of %d "
                     "shared names differ; is it a checkpoint of another config?).%s"
                     % (reader.path, name, list(reader.shapes[name]), list(expected),
                        len(mismatched), len(matched), hint))
  return matched


def save_checkpoint(prefix, tensors):
  """Saves {name: tensor or array} as a TF1-format checkpoint at `prefix`, atomically.

  The files are written under a temporary prefix and renamed, data first and index last, so a
  checkpoint that exists under its final name is always complete.

  Raises:
    WriteError: the files could not be written (a full disk, an I/O error): the temporary files
      are removed and nothing under `prefix` was touched.
  """
  if not tensors:
    raise UsageError("Nothing to save to %s." % prefix)
  directory = os.path.dirname(prefix) or "."
  # Object stores (gs://) have no directories to check: a prefix exists once a file is in it.
  if not file_io.is_remote(prefix) and not tf.io.gfile.isdir(directory):
    raise UsageError("Cannot save checkpoint %s: directory %s does not exist."
                     % (prefix, directory))
  names = sorted(tensors)
  values = [tf.convert_to_tensor(tensors[n]) for n in names]
  try:
    with atomic.file_set(prefix, FILE_SUFFIXES) as temporary:
      tf.raw_ops.SaveV2(prefix=temporary, tensor_names=names,
                        shape_and_slices=[""] * len(names), tensors=values)
  except (tf.errors.OpError, OSError) as e:
    raise WriteError("Cannot save checkpoint %s: %s"
                     % (prefix, errors.tensorflow_reason(e, os_words=True))) from None
  return prefix


def model_tensors(variables, global_step=None, slots=None):
  """The {name: value} map of a model checkpoint.

  Args:
    variables: {TF1 name: variable}.
    global_step: int, saved as int64 `global_step` when given.
    slots: optional {TF1 name: {"adam_m": value, "adam_v": value}} saved as `<name>/adam_m` etc.
  """
  tensors = {name: tf.convert_to_tensor(variable) for name, variable in variables.items()}
  if global_step is not None:
    tensors[GLOBAL_STEP] = tf.constant(global_step, tf.int64)
  for name, slot_values in (slots or {}).items():
    for slot, value in slot_values.items():
      tensors["%s/%s" % (name, slot)] = value
  return tensors


def delete_checkpoint(prefix):
  """Removes a checkpoint's files (those that exist)."""
  for suffix in reversed(FILE_SUFFIXES):  # the index first: no reader takes the rest for one
    if tf.io.gfile.exists(prefix + suffix):
      tf.io.gfile.remove(prefix + suffix)


def is_optimizer_slot(name):
  return name.rsplit("/", 1)[-1] in SLOT_SUFFIXES


def strip_optimizer_slots(input_path, output_prefix):
  """Copies a checkpoint without its `adam_m`/`adam_v` slots (a third of a training checkpoint).

  `input_path` is a prefix or a directory with a `checkpoint` file; the output's directory is
  created if need be. Returns the names kept.
  """
  reader = CheckpointReader(input_path)
  kept = {name: reader.read(name) for name in reader.shapes if not is_optimizer_slot(name)}
  if os.path.dirname(output_prefix):
    tf.io.gfile.makedirs(os.path.dirname(output_prefix))
  save_checkpoint(output_prefix, kept)
  return sorted(kept)
