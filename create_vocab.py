"""Learns a WordPiece vocabulary from raw text, in the layout of the released BERT vocabularies.

Words are split as FullTokenizer splits them (our BasicTokenizer), then tensorflow-text's
WordPiece learner picks the pieces; the output has exactly --vocab_size lines ([PAD],
[unused0..N-1], [UNK], [CLS], [SEP], [MASK], the learned tokens, then [unusedK] if room is left)
and is ready for create_pretraining_data.py and run_pretraining.py. TensorFlow is not imported.

  python create_vocab.py --input_file=corpus/*.txt --vocab_size=30522 --do_lower_case=True \\
      --output_file=vocab.txt
"""

from absl import app
from absl import flags
from absl import logging

from bert_mlm import errors
from bert_mlm.data import vocab_learning

_DEFAULTS = vocab_learning.VocabOptions()

flags.DEFINE_string("input_file", None,
                    "Input raw text file (or comma-separated list of files, globs allowed), as "
                    "for create_pretraining_data.py; local or gs:// paths.")
flags.DEFINE_string("output_file", None, "The vocabulary file to write (one token per line).")
flags.DEFINE_integer("vocab_size", _DEFAULTS.vocab_size,
                     "Lines of the output, special tokens included.")
flags.DEFINE_bool("do_lower_case", _DEFAULTS.do_lower_case,
                  "Lower-case and strip accents before counting words: True for an uncased "
                  "model (use the same value in create_pretraining_data.py).")
flags.DEFINE_integer("num_unused_tokens", _DEFAULTS.num_unused_tokens,
                     "[unusedN] tokens between [PAD] and [UNK]; with the default 99 the special "
                     "tokens get the released vocabularies' ids ([UNK]=100 .. [MASK]=103).")
flags.DEFINE_integer("lower_thresh", _DEFAULTS.lower_thresh,
                     "Learner: lowest piece frequency the threshold search may try (a piece "
                     "seen fewer times never enters the vocabulary).")
flags.DEFINE_integer("upper_thresh", _DEFAULTS.upper_thresh,
                     "Learner: highest piece frequency the threshold search may try.")
flags.DEFINE_integer("num_iterations", _DEFAULTS.num_iterations,
                     "Learner: refinement passes at each threshold.")
flags.DEFINE_integer("max_input_tokens", _DEFAULTS.max_input_tokens,
                     "Learner: the most frequent distinct words considered (-1: all).")
flags.DEFINE_integer("max_token_length", _DEFAULTS.max_token_length,
                     "Learner: words longer than this (in characters) are not counted.")
flags.DEFINE_integer("max_unique_chars", _DEFAULTS.max_unique_chars,
                     "Learner: the alphabet, the most frequent characters; words with other "
                     "characters are not counted (raise it for CJK text).")
flags.DEFINE_float("slack_ratio", _DEFAULTS.slack_ratio,
                   "Learner: a vocabulary this fraction below --vocab_size is accepted (the "
                   "rest is filled with [unusedK]).")

FLAGS = flags.FLAGS


def main(_):
  logging.set_verbosity(logging.INFO)
  options = vocab_learning.VocabOptions(
      vocab_size=FLAGS.vocab_size, do_lower_case=FLAGS.do_lower_case,
      num_unused_tokens=FLAGS.num_unused_tokens, lower_thresh=FLAGS.lower_thresh,
      upper_thresh=FLAGS.upper_thresh, num_iterations=FLAGS.num_iterations,
      max_input_tokens=FLAGS.max_input_tokens, max_token_length=FLAGS.max_token_length,
      max_unique_chars=FLAGS.max_unique_chars, slack_ratio=FLAGS.slack_ratio)
  with errors.one_line_errors("create_vocab.py"):
    vocab_learning.create_vocab(FLAGS.input_file, FLAGS.output_file, options)


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  app.run(main)
