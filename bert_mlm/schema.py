"""The pretraining example: feature names, dtypes and lengths, written down once.

  input_ids, input_mask, segment_ids    int64    [max_seq_length]
  masked_lm_positions, masked_lm_ids    int64    [max_predictions_per_seq]
  masked_lm_weights                     float32  [max_predictions_per_seq] (1.0 real, 0.0 padding)
  next_sentence_labels                  int64    [1] (1 when segment B is a random segment)

tf.train.Example holds int64; the input pipeline hands the model int32. The data writer, the
input pipeline, the model, the tests and the benchmarks all read this module; it imports nothing,
so the data side stays free of TensorFlow.
"""

INT64 = "int64"
FLOAT32 = "float32"

# (name, dtype, which flag sets its length) in the original's order.
_FEATURES = (
    ("input_ids", INT64, "max_seq_length"),
    ("input_mask", INT64, "max_seq_length"),
    ("segment_ids", INT64, "max_seq_length"),
    ("masked_lm_positions", INT64, "max_predictions_per_seq"),
    ("masked_lm_ids", INT64, "max_predictions_per_seq"),
    ("masked_lm_weights", FLOAT32, "max_predictions_per_seq"),
    ("next_sentence_labels", INT64, None),
)

FEATURE_NAMES = tuple(name for name, _, _ in _FEATURES)
DTYPES = {name: dtype for name, dtype, _ in _FEATURES}
# The flag that sets each feature's length (None: always 1).
LENGTH_FLAGS = {name: flag for name, _, flag in _FEATURES}


def feature_lengths(max_seq_length, max_predictions_per_seq):
  """{name: length} of every feature, in the original's order."""
  lengths = {"max_seq_length": max_seq_length,
             "max_predictions_per_seq": max_predictions_per_seq, None: 1}
  return {name: lengths[flag] for name, _, flag in _FEATURES}
