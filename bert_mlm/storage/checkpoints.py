"""Checkpoints in the original's TF1 format, both ways, by variable name.

Our variables' Keras paths are the original's TF1 names, so reading is `tf.train.load_checkpoint`
plus a name lookup, and writing is a {name: tensor} map saved with `SaveV2`: the same
`<prefix>.index` + `<prefix>.data-00000-of-00001` files a TF1 `tf.train.Saver` writes, which the
original's code, its `init_from_checkpoint` and every converter built for it read unchanged.

One format for everything: released weights (`bert_model.ckpt`), init checkpoints and training
checkpoints (`model.ckpt-<step>` with `global_step` and the optimizer slots
`<name>/adam_m`, `<name>/adam_v`).

Faults: a save that fails (a full disk, an I/O error) removes its temporary files and raises
`WriteError`, leaving the previous checkpoints and the `checkpoint` state file as they were; a
resume skips, with a warning, listed checkpoints that are missing or truncated and restores the
newest complete one.
"""

import glob
import os
import re

from absl import logging
from google.protobuf import text_format
import tensorflow as tf

from tensorflow.python.training import checkpoint_state_pb2

from bert_mlm.storage import file_io
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError

WORD_EMBEDDINGS = "bert/embeddings/word_embeddings"
GLOBAL_STEP = "global_step"
SLOT_SUFFIXES = ("adam_m", "adam_v")
# What TensorFlow's checkpoint reader raises on a truncated or corrupt file.
_READ_ERRORS = (tf.errors.OpError, ValueError, IndexError, RuntimeError)
_STEP = re.compile(r"model\.ckpt-(\d+)\.index$")


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
                                 % (self.path, _first_line(e))) from None

  def read(self, name):
    try:
      return self._reader.get_tensor(name)
    except _READ_ERRORS as e:
      raise UnreadableCheckpoint(
          "Checkpoint %s: variable %s cannot be read (truncated or corrupt?): %s"
          % (self.path, name, _first_line(e))) from None


def _first_line(error):
  return str(getattr(error, "message", error)).strip().split("\n")[0]


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
  temporary = "%s.tmp-%d" % (prefix, os.getpid())
  values = [tf.convert_to_tensor(tensors[n]) for n in names]
  try:
    tf.raw_ops.SaveV2(prefix=temporary, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=values)
  except (tf.errors.OpError, OSError) as e:
    _remove_quietly(temporary + "*")
    raise WriteError("Cannot save checkpoint %s: %s" % (prefix, _os_reason(e))) from None
  # A rename within a directory does not need space; should one fail, the index (renamed last)
  # is not in place, so no reader takes the files for a checkpoint.
  for suffix in (".data-00000-of-00001", ".index"):
    tf.io.gfile.rename(temporary + suffix, prefix + suffix, overwrite=True)
  return prefix


def _os_reason(error):
  """The operating system's words in a TensorFlow I/O error: "<path>; No space left on device"
  -> "No space left on device"."""
  text = str(getattr(error, "message", error)).strip().split("\n")[0]
  text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text))
  return text.rsplit("; ", 1)[-1] if "; " in text else text


def _remove_quietly(pattern):
  """Removes the local or remote files matching `pattern`, ignoring failures (cleanup after a
  failure must not hide it)."""
  try:
    paths = tf.io.gfile.glob(pattern)
  except tf.errors.OpError:
    paths = glob.glob(pattern)
  for path in paths:
    try:
      tf.io.gfile.remove(path)
    except (tf.errors.OpError, OSError):
      pass


def check_writable(directory, flag="--output_dir"):
  """Creates `directory` if needed and writes and removes a small file in it, so that an output
  directory that can't be written is an error before any work.

  Raises:
    WriteError: naming the flag, the directory and the reason.
  """
  probe = os.path.join(directory, ".write_check-%d" % os.getpid())
  try:
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok\n")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    _remove_quietly(probe)
    raise WriteError("%s=%s can't be written: %s." % (flag, directory, _os_reason(e))) from None


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


def write_checkpoint_state(directory, prefixes):
  """Writes `directory/checkpoint` naming the latest and all kept checkpoints, atomically.

  The text format of TF1's CheckpointState, so `tf.train.latest_checkpoint` (and the original's
  Estimator) find them. Paths are stored relative to `directory`.
  """
  names = [os.path.relpath(p, directory) if os.path.isabs(p) or os.path.dirname(p) else p
           for p in prefixes]
  lines = ['model_checkpoint_path: "%s"' % names[-1]]
  lines += ['all_model_checkpoint_paths: "%s"' % name for name in names]
  write_text_atomically(os.path.join(directory, "checkpoint"), "\n".join(lines) + "\n")


def write_text_atomically(path, text):
  """Writes `path` (local or any tf.io.gfile filesystem) under a temporary name beside it, then
  renames it into place: a reader sees the old file or the new one, never part of one.

  Raises:
    WriteError: "Cannot write <path>: <reason>"; the temporary is removed, `path` untouched.
  """
  temporary = "%s.tmp-%d" % (path, os.getpid())
  try:
    with tf.io.gfile.GFile(temporary, "w") as f:
      f.write(text)
  except (tf.errors.OpError, OSError) as e:
    _remove_quietly(temporary)
    raise WriteError("Cannot write %s: %s" % (path, _os_reason(e))) from None
  tf.io.gfile.rename(temporary, path, overwrite=True)


def delete_checkpoint(prefix):
  """Removes a checkpoint's files (those that exist)."""
  for suffix in (".index", ".data-00000-of-00001"):
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


class CheckpointManager(object):
  """A training run's checkpoints: `directory/model.ckpt-<step>` and the `checkpoint` state file.

  Owns what a training checkpoint holds (weights, optimizer slots, `global_step`), saving it
  atomically, keeping the newest `max_to_keep` (the Estimator's 5), and restoring the newest.
  With `is_writer` False (every worker but the chief) it restores but never writes.
  """

  def __init__(self, directory, variables, slots, global_step, max_to_keep=5, is_writer=True):
    """variables: {TF1 name: variable}; slots: {name: (adam_m, adam_v)}; global_step: int64
    variable."""
    self.directory = directory
    self.max_to_keep = max_to_keep
    self.is_writer = is_writer
    self.global_step = global_step
    self._targets = dict(variables)
    for name, (m, v) in slots.items():
      self._targets[name + "/adam_m"], self._targets[name + "/adam_v"] = m, v
    self._targets[GLOBAL_STEP] = global_step
    self.kept = self._read_state()

  def _read_state(self):
    try:
      return read_checkpoint_state(self.directory)
    except UsageError as e:
      # restore_newest then looks for model.ckpt-<step> files instead (and says so).
      logging.warning("%s", e)
      return []

  @property
  def latest(self):
    """The newest checkpoint's prefix, or None."""
    return latest_checkpoint(self.directory)

  def restore(self, path):
    """Loads weights, slots and global_step of a training checkpoint (all required)."""
    loaded = load_checkpoint(self._targets, path)
    missing = sorted(set(self._targets) - set(loaded))
    if missing:
      raise UsageError("Checkpoint %s is not a training checkpoint of this model: it lacks %s%s."
                       % (path, ", ".join(missing[:3]), " and %d more" % (len(missing) - 3)
                          if len(missing) > 3 else ""))

  def save(self):
    """Saves `model.ckpt-<global_step>`, rewrites the state file, then drops the oldest beyond
    max_to_keep; returns the prefix (None where this process does not write).

    Raises:
      WriteError: the checkpoint or the state file could not be written; the files of this save
        are removed, the previous checkpoints and the state file are as they were.
    """
    if not self.is_writer:
      return None
    step = int(self.global_step.numpy())
    prefix = os.path.join(self.directory, "model.ckpt-%d" % step)
    tensors = {name: tf.convert_to_tensor(v) for name, v in self._targets.items()}
    previous = self.kept[-1] if self.kept else None
    kept = [p for p in self.kept if p != prefix] + [prefix]
    dropped, kept = kept[:-self.max_to_keep], kept[-self.max_to_keep:]
    try:
      save_checkpoint(prefix, tensors)
      try:
        # The state file before any deletion: it never names a checkpoint that was removed.
        write_checkpoint_state(self.directory, kept)
      except WriteError:
        if prefix != previous:
          delete_checkpoint(prefix)  # complete, but listed nowhere: don't leave it to fill space
        raise
    except WriteError as e:
      raise WriteError("%s. %s" % (e, (
          "The previous checkpoint %s and the `checkpoint` file naming it are intact: free space "
          "(or repair %s) and rerun to resume from it." % (previous, self.directory))
          if previous else "No checkpoint had been saved yet.")) from None
    self.kept = kept
    for old in dropped:
      try:
        delete_checkpoint(old)
      except (tf.errors.OpError, OSError) as e:
        logging.warning("Could not remove the old checkpoint %s: %s", old, _os_reason(e))
    logging.info("Saved checkpoint %s", prefix)
    return prefix

  def _on_disk(self):
    """The `model.ckpt-<step>` prefixes in the directory, highest step first."""
    found = []
    for index in tf.io.gfile.glob(os.path.join(self.directory, "model.ckpt-*.index")):
      match = _STEP.search(index)
      if match:
        found.append((int(match.group(1)), index[:-len(".index")]))
    return [prefix for _, prefix in sorted(found, reverse=True)]

  def restore_newest(self):
    """Restores the newest complete checkpoint; returns its prefix, or None if there is none.

    The candidates are those the state file lists, newest first, then (should none of them
    load, or the state file be missing or unreadable) the other `model.ckpt-<step>` in the
    directory, highest step first. One that is missing, truncated or corrupt is skipped with a
    warning naming it, and dropped from `kept` (a later save at its step replaces its files).

    Raises:
      UsageError: checkpoints exist but none can be read, or the newest readable one does not
        fit the model.
    """
    candidates = list(reversed(self.kept))
    state_file = os.path.join(self.directory, "checkpoint")
    if not candidates and tf.io.gfile.exists(state_file):
      logging.warning("%s can't be parsed or lists no checkpoint; looking for model.ckpt-<step> "
                      "files instead.", state_file)
    candidates += [p for p in self._on_disk() if p not in candidates]
    skipped = []
    for prefix in candidates:
      problem = None
      for suffix in (".index", ".data-00000-of-00001"):
        if problem is None and not tf.io.gfile.exists(prefix + suffix):
          problem = "%s%s is missing" % (os.path.basename(prefix), suffix)
      if problem is None:
        try:
          self.restore(prefix)  # reads every tensor before assigning any
        except UnreadableCheckpoint as e:
          problem = str(e)
      if problem is None:
        if skipped:
          logging.warning("Restored %s, the newest complete checkpoint; skipped %s.", prefix,
                          ", ".join(skipped))
          self.kept = [p for p in self.kept if p not in skipped]
        return prefix
      logging.warning("Checkpoint %s can't be restored (%s); trying the one before it.", prefix,
                      problem)
      skipped.append(prefix)
    if skipped:
      raise UsageError("No checkpoint in %s can be restored (%s are missing or damaged; see the "
                       "warnings above); move them away to start over." % (
                           self.directory, ", ".join(skipped)))
    return None
