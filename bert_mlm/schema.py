"""The pretraining example: feature names, dtypes and lengths, written down once.

  input_ids, input_mask, segment_ids    int64    [max_seq_length]
  masked_lm_positions, masked_lm_ids    int64    [max_predictions_per_seq]
  masked_lm_weights                     float32  [max_predictions_per_seq] (1.0 real, 0.0 padding)
  next_sentence_labels                  int64    [1] (1 when segment B is a random segment)

Records written with dynamic masking (create_pretraining_data.py --dynamic_masking) hold the
unmasked layout: the same features without the three masked LM ones, which the input pipeline
then draws for each batch (dynamic_masking.py). Unmasked records written with Chinese whole-word
masking (--chinese_whole_word_mask) also hold

  continues_word                        int64    [max_seq_length] (1 where the token joins the
                                                 word before it for whole-word masking beyond
                                                 what `##` says: a CJK character right after
                                                 another of the same segmenter word; else 0)

which older records lack: the input pipeline reads it as all 0 there.

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
# Only in unmasked records, and only in some (see above); after the others.
_OPTIONAL_UNMASKED_FEATURES = (
    ("continues_word", INT64, "max_seq_length"),
)

FEATURE_NAMES = tuple(name for name, _, _ in _FEATURES)
# What masking adds; the unmasked layout is the rest, in the same order.
MASKED_LM_FEATURE_NAMES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
UNMASKED_FEATURE_NAMES = tuple(n for n in FEATURE_NAMES if n not in MASKED_LM_FEATURE_NAMES)
CONTINUES_WORD = "continues_word"
OPTIONAL_UNMASKED_FEATURE_NAMES = tuple(name for name, _, _ in _OPTIONAL_UNMASKED_FEATURES)
DTYPES = {name: dtype for name, dtype, _ in _FEATURES + _OPTIONAL_UNMASKED_FEATURES}
# The flag that sets each feature's length (None: always 1).
LENGTH_FLAGS = {name: flag for name, _, flag in _FEATURES + _OPTIONAL_UNMASKED_FEATURES}


def feature_lengths(max_seq_length, max_predictions_per_seq, masked=True):
  """{name: length} of every feature, in the original's order (masked=False: the unmasked
  layout, which has no feature of length max_predictions_per_seq)."""
  lengths = {"max_seq_length": max_seq_length,
             "max_predictions_per_seq": max_predictions_per_seq, None: 1}
  names = FEATURE_NAMES if masked else UNMASKED_FEATURE_NAMES
  return {name: lengths[flag] for name, _, flag in _FEATURES if name in names}


def optional_feature_lengths(max_seq_length):
  """{name: length} of the optional features of unmasked records (read as 0 when missing)."""
  lengths = {"max_seq_length": max_seq_length}
  return {name: lengths[flag] for name, _, flag in _OPTIONAL_UNMASKED_FEATURES}
