"""A training run's checkpoints, as the Estimator kept them: `output_dir/model.ckpt-<step>`, the
`checkpoint` state file naming them, the newest five kept, the newest complete one restored.

The checkpoint files themselves are the TF1 format of `storage.checkpoints`. Faults: a save that
fails (a full disk, an I/O error) raises `WriteError` and leaves the previous checkpoints and the
state file as they were; a resume skips, with a warning, listed checkpoints that are missing or
truncated and restores the newest complete one.
"""

import os
import re

from absl import logging
import tensorflow as tf

from bert_mlm import errors
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError
from bert_mlm.storage import atomic
from bert_mlm.storage import checkpoints

_STEP = re.compile(r"model\.ckpt-(\d+)\.index$")


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
    self._targets[checkpoints.GLOBAL_STEP] = global_step
    self.kept = self._read_state()

  def _read_state(self):
    try:
      return checkpoints.read_checkpoint_state(self.directory)
    except UsageError as e:
      # restore_newest then looks for model.ckpt-<step> files instead (and says so).
      logging.warning("%s", e)
      return []

  @property
  def latest(self):
    """The newest checkpoint's prefix, or None."""
    return checkpoints.latest_checkpoint(self.directory)

  def restore(self, path):
    """Loads weights, slots and global_step of a training checkpoint (all required)."""
    loaded = checkpoints.load_checkpoint(self._targets, path)
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
      checkpoints.save_checkpoint(prefix, tensors)
      try:
        # The state file before any deletion: it never names a checkpoint that was removed.
        write_checkpoint_state(self.directory, kept)
      except WriteError:
        if prefix != previous:
          # Complete, but listed nowhere: don't leave it to fill space.
          checkpoints.delete_checkpoint(prefix)
        raise
    except WriteError as e:
      raise WriteError("%s. %s" % (e, (
          "The previous checkpoint %s and the `checkpoint` file naming it are intact: free space "
          "(or repair %s) and rerun to resume from it." % (previous, self.directory))
          if previous else "No checkpoint had been saved yet.")) from None
    self.kept = kept
    for old in dropped:
      try:
        checkpoints.delete_checkpoint(old)
      except (tf.errors.OpError, OSError) as e:
        logging.warning("Could not remove the old checkpoint %s: %s", old,
                        errors.tensorflow_reason(e, os_words=True))
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
        except checkpoints.UnreadableCheckpoint as e:
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


def write_checkpoint_state(directory, prefixes):
  """Writes `directory/checkpoint` naming the latest and all kept checkpoints, atomically.

  The text format of TF1's CheckpointState, so `tf.train.latest_checkpoint` (and the original's
  Estimator) find them. Paths are stored relative to `directory`.
  """
  names = [os.path.relpath(p, directory) if os.path.isabs(p) or os.path.dirname(p) else p
           for p in prefixes]
  lines = ['model_checkpoint_path: "%s"' % names[-1]]
  lines += ['all_model_checkpoint_paths: "%s"' % name for name in names]
  atomic.write_text(os.path.join(directory, "checkpoint"), "\n".join(lines) + "\n")


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
    atomic.remove_quietly([probe])
    raise WriteError("%s=%s can't be written: %s." % (
        flag, directory, errors.tensorflow_reason(e, os_words=True))) from None
