"""Learns a WordPiece vocabulary from raw text, in the layout of the released BERT vocabularies.

Words are split as FullTokenizer splits them (our BasicTokenizer), then tensorflow-text's
WordPiece learner picks the pieces; the output has exactly --vocab_size lines ([PAD],
[unused0..N-1], [UNK], [CLS], [SEP], [MASK], the learned tokens, then [unusedK] only if the text
has too few distinct pieces) and is ready for create_pretraining_data.py and run_pretraining.py.
TensorFlow is not imported.

  python create_vocab.py --input_file=corpus/*.txt --vocab_size=30522 --do_lower_case=True \\
      --output_file=vocab.txt

Also `bert-mlm-create-vocab` and `python -m bert_mlm.cli.create_vocab`.
"""

from absl import flags
from absl import logging

from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.data import vocab_learning

flags.DEFINE_string("input_file", None,
                    "Input raw text file (or comma-separated list of files, globs allowed), as "
                    "for create_pretraining_data.py; local or gs:// paths.")
flags.DEFINE_string("output_file", None, "The vocabulary file to write (one token per line).")
command.define_flags(vocab_learning.VocabOptions, {
    "vocab_size": "Lines of the output, special tokens included.",
    "do_lower_case": "Lower-case and strip accents before counting words: True for an uncased "
                     "model (use the same value in create_pretraining_data.py).",
    "num_unused_tokens": "[unusedN] tokens between [PAD] and [UNK]; with the default 99 the "
                         "special tokens get the released vocabularies' ids ([UNK]=100 .. "
                         "[MASK]=103).",
    "lower_thresh": "Learner: lowest piece frequency the threshold search may try; if the "
                    "vocabulary is still short of --vocab_size there, the pieces learned at each "
                    "lower threshold are added, down to 1 (a piece seen once).",
    "upper_thresh": "Learner: highest piece frequency the threshold search may try.",
    "num_iterations": "Learner: refinement passes at each threshold.",
    "max_input_tokens": "Learner: the most frequent distinct words considered (-1: all).",
    "max_token_length": "Learner: words longer than this (in characters) are not counted.",
    "max_unique_chars": "Learner: the alphabet, the most frequent characters; words with other "
                        "characters are not counted (raise it for CJK text).",
    "slack_ratio": "Learner: a vocabulary this fraction below --vocab_size is accepted (the "
                   "rest is filled with [unusedK]).",
})

FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  with errors.one_line_errors("create_vocab.py"):
    vocab_learning.create_vocab(FLAGS.input_file, FLAGS.output_file,
                                command.options_from_flags(vocab_learning.VocabOptions))


def main():
  command.run(run, __name__, required=("input_file", "output_file"))


if __name__ == "__main__":
  main()
