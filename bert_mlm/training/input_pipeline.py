"""Pretraining TFRecords -> batches, as the original's `input_fn_builder` reads them.

Training: repeat the list of files, shuffle it, interleave the files, shuffle 100 records.
Evaluation: read the files in order, repeat. Both decode to int32 (float32 weights) and batch
with drop_remainder. Every batch is a dict:
  input_ids, input_mask, segment_ids         int32 [B, max_seq_length]
  masked_lm_positions, masked_lm_ids         int32 [B, max_predictions_per_seq]
  masked_lm_weights                          float32 [B, max_predictions_per_seq]
  next_sentence_labels                       int32 [B, 1]

Records are checked before training starts (`record_layout.check_records`): a file written for
another `max_seq_length` or `max_predictions_per_seq` is an error naming the file and the feature.

With `masking` (a dynamic_masking.DynamicMasking), the records are unmasked (written by
create_pretraining_data.py --dynamic_masking) and each decoded batch is masked in the pipeline,
into the same batch dict.
"""

import functools

import tensorflow as tf

from bert_mlm import schema
from bert_mlm.training import input_faults

_NUM_CPU_THREADS = 4  # the original's interleave and map parallelism
_SHUFFLE_RECORDS = 100
_PREFETCH_BATCHES = 2


def _decode(records, name_to_features):
  """A batch of serialized examples -> the batch dict (one vectorized parse per batch)."""
  examples = tf.io.parse_example(records, name_to_features)
  # tf.Example holds int64; int32 is what the model (and TPUs) use.
  return {name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t for name, t in examples.items()}


def make_dataset(input_files, max_seq_length, max_predictions_per_seq, batch_size, is_training,
                 shuffle=True, seed=None, masking=None, skip_batches=0, skip_corrupt=None):
  """The original's input pipeline as a tf.data.Dataset of batches (see the module docstring).

  Args:
    shuffle: training only; False reads records in file order (for parity tests, debugging).
    seed: makes the shuffles (and the interleave order, and in training dynamic masks)
      reproducible.
    masking: None reads masked records; a dynamic_masking.DynamicMasking reads unmasked ones and
      masks each batch (fresh masks in training, a fixed mask per record in evaluation).
    skip_batches: batches to pass over first (a resumed run's consumed batches). They are read
      but not parsed; with shuffling, the batches after them are the uninterrupted run's only
      when `seed` is set.
    skip_corrupt: None stops at the first corrupt record (TensorFlow's error); an
      input_faults.SkippingReader reads past corrupt records instead, counting and logging them
      (--skip_corrupt_records; the same records in the same order where none is corrupt).
  """
  lengths = schema.feature_lengths(max_seq_length, max_predictions_per_seq,
                                   masked=masking is None)
  name_to_features = {
      name: tf.io.FixedLenFeature([length], tf.dtypes.as_dtype(schema.DTYPES[name]))
      for name, length in lengths.items()}
  if masking is not None and masking.do_whole_word_mask:
    # Chinese words, where the records hold them; all 0 (no word beyond `##`) where not.
    for name, length in schema.optional_feature_lengths(max_seq_length).items():
      name_to_features[name] = tf.io.FixedLenFeature(
          [length], tf.dtypes.as_dtype(schema.DTYPES[name]), default_value=[0] * length)
  options = tf.data.Options()
  options.deterministic = seed is not None or not shuffle or not is_training
  # Fixed parallelism (the original's) and no autotuning. Autotuning runs an optimizer thread
  # that an iterator's destructor waits for, and on a busy CPU one of its passes took seconds to
  # half a minute: the end of training stalled there before evaluation (and the end of eval
  # before exit). The pipeline is far ahead of a training step either way.
  options.autotune.enabled = False
  # Across workers, split each global batch (any number of files works, even one).
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  read = tf.data.TFRecordDataset
  if skip_corrupt is not None:
    read = functools.partial(input_faults.read_skipping, reader=skip_corrupt)
  if is_training and shuffle:
    d = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
    d = d.repeat()
    d = d.shuffle(buffer_size=len(input_files), seed=seed)
    cycle_length = min(_NUM_CPU_THREADS, len(input_files))
    d = d.interleave(read, cycle_length=cycle_length, num_parallel_calls=cycle_length)
    d = d.shuffle(buffer_size=_SHUFFLE_RECORDS, seed=seed)
  elif skip_corrupt is not None:
    d = tf.data.Dataset.from_tensor_slices(tf.constant(input_files)).flat_map(read).repeat()
  else:
    d = tf.data.TFRecordDataset(input_files).repeat()
  # Batch the serialized records, then parse each batch at once: the same batches as parsing
  # record by record, several times faster.
  d = d.batch(batch_size, drop_remainder=True)
  if masking is None:
    if skip_batches:
      d = d.skip(skip_batches)
    d = d.map(lambda records: _decode(records, name_to_features),
              num_parallel_calls=_NUM_CPU_THREADS)
  else:
    # Batches are numbered first: a training batch's masks are drawn from its place in the
    # stream, so a resumed run's batches get the masks they had in the first run.
    d = d.enumerate()
    if skip_batches:
      d = d.skip(skip_batches)
    d = masking.map_batches(d, lambda records: _decode(records, name_to_features),
                            max_predictions_per_seq, is_training, seed)
  return d.with_options(options).prefetch(_PREFETCH_BATCHES)
