"""Whether a TFRecord holds a pretraining example of the layout a run reads, and if not, why.

The input pipeline parses every record with FixedLenFeature: a record that lacks a feature, or
holds one of another kind or length, fails the whole batch. One answer to "is this record of the
expected layout", used before training (`check_records`: the first record of each file), by the
skipping reader (`--skip_corrupt_records`: every record) and when an input error mid-run is
explained (`input_faults.describe`).

A layout is `schema.feature_lengths(max_seq_length, max_predictions_per_seq, masked)`; records
written with create_pretraining_data.py --dynamic_masking hold the unmasked one, and may hold
its optional features (`schema.optional_feature_lengths`), checked where present.
"""

from absl import logging
from google.protobuf import message
import tensorflow as tf

from tensorflow.core.example import example_pb2

from bert_mlm import schema
from bert_mlm.errors import UsageError


class RecordLayout(object):
  """The features (kind and length) a serialized tf.train.Example must hold."""

  def __init__(self, max_seq_length, max_predictions_per_seq, masked=True):
    """masked: False for records written with --dynamic_masking (no masked LM features)."""
    self.masked = masked
    self.flags = "--max_seq_length=%d --max_predictions_per_seq=%d" % (
        max_seq_length, max_predictions_per_seq)
    self._expected = _kinds(schema.feature_lengths(max_seq_length, max_predictions_per_seq,
                                                   masked=masked))
    self._optional = [] if masked else _kinds(schema.optional_feature_lengths(max_seq_length))

  def problem(self, data):
    """None when `data` (a serialized record) is an example of this layout (what the pipeline's
    parse accepts); else why not, as a phrase."""
    try:
      features = example_pb2.Example.FromString(data).features.feature
    except message.DecodeError:
      return "the record is not a tf.train.Example"
    has_masks = "masked_lm_positions" in features
    if has_masks and not self.masked:
      return ("the records are already masked; --dynamic_masking needs records written by "
              "create_pretraining_data.py --dynamic_masking=True")
    if self.masked and not has_masks and "input_ids" in features:
      return ("the records hold no masks (written with --dynamic_masking=True); pass "
              "--dynamic_masking=True (with --vocab_file) to mask them in the input pipeline")
    for name, kind, length in self._expected + self._optional:
      feature = features.get(name)
      if feature is None:
        if (name, kind, length) in self._optional:
          continue  # older records lack it; the pipeline reads it as 0
        return ("records lack the feature %s; was it written by create_pretraining_data.py?"
                % name)
      if feature.WhichOneof("kind") != kind:
        return "feature %s holds %s values where a pretraining example holds %s" % (
            name, feature.WhichOneof("kind") or "no", schema.DTYPES[name])
      found = len(getattr(feature, kind).value)
      if found != length:
        flag = "--" + schema.LENGTH_FLAGS[name] if schema.LENGTH_FLAGS[name] else "the data"
        return ("feature %s has length %d but %s expects %d; the records were written with "
                "other settings" % (name, found, flag, length))
    return None


def _kinds(lengths):
  """[(name, tf.train.Feature kind, length)] of {name: length}."""
  return [(name, "float_list" if schema.DTYPES[name] == schema.FLOAT32 else "int64_list", length)
          for name, length in lengths.items()]


def check_records(input_files, layout, masking=None):
  """Reads the first record of each file and checks it against `layout` (a RecordLayout).

  masking: the dynamic_masking.DynamicMasking that will mask unmasked records (None for masked
    ones); records holding Chinese words without its whole-word masking get a warning.

  Raises:
    UsageError: a file is empty, not a TFRecord file, or its first record is not an example of
      this layout (naming the file and, for a length, the feature, both lengths and the flag).
  """
  for path in input_files:
    try:
      first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    except tf.errors.OpError as e:
      raise UsageError("%s: not a readable TFRecord file (%s)." % (path, e.message)) from None
    if first is None:
      raise UsageError("%s: the file holds no records." % path)
    problem = layout.problem(first.numpy())
    if problem is not None:
      raise UsageError("%s: %s." % (path, problem.replace("the record is", "the first record is")))
    if (masking is not None and not masking.do_whole_word_mask and schema.CONTINUES_WORD in
        example_pb2.Example.FromString(first.numpy()).features.feature):
      logging.warning("%s: the records hold Chinese words (written with "
                      "--chinese_whole_word_mask); without --do_whole_word_mask=True they are "
                      "masked character by character.", path)
