"""The flags both data-creation commands (create_pretraining_data, its Beam pipeline) share:
the input, vocabulary and per-file output, and one flag per `DataOptions` field."""

from absl import flags

from bert_mlm import create_pretraining_data
from bert_mlm.cli import command

# The flags defined here belong to the command module that calls `define`.
flags.disclaim_key_flags()

DATA_OPTION_HELPS = {
    "do_lower_case": "Whether to lower case the input text. Should be True for uncased models "
                     "and False for cased models.",
    "do_whole_word_mask": "Whether to use whole word masking rather than per-WordPiece masking.",
    "max_seq_length": "Maximum sequence length.",
    "max_predictions_per_seq": "Maximum number of masked LM predictions per sequence.",
    "random_seed": "Random seed for data generation.",
    "dupe_factor": "Number of times to duplicate the input data (with different masks).",
    "masked_lm_prob": "Masked LM probability.",
    "short_seq_prob": "Probability of creating sequences which are shorter than the maximum "
                      "length.",
    "preserve_unused_tokens": "If True, words that are [unusedN] vocabulary tokens are kept "
                              "whole instead of being split by punctuation and WordPiece (the "
                              "PyPI release's option).",
    "dynamic_masking": "Not in the original: write the next sentence pairs without masks "
                       "(input_ids, input_mask, segment_ids, next_sentence_labels); "
                       "run_pretraining.py --dynamic_masking=True then masks every batch "
                       "afresh, so --dupe_factor=1 is usual and --masked_lm_prob, "
                       "--max_predictions_per_seq and --do_whole_word_mask are set there "
                       "instead.",
    "chinese_whole_word_mask": "Not in the original: whole-word masking with Chinese words "
                               "(jieba or whitespace; implies --do_whole_word_mask). A CJK "
                               "character that continues a word is grouped with the token "
                               "before it, as a ## piece is; ids and labels stay the "
                               "characters'. jieba: words of jieba.cut on each line (pip "
                               "install -e '.[zh]'); whitespace: the text is already segmented, "
                               "words separated by spaces (tokens are those of the text without "
                               "them). With --dynamic_masking the records carry the words for "
                               "run_pretraining.py --do_whole_word_mask=True.",
}


def define():
  """--input_file, --vocab_file, --output_dir, --overwrite, --dry_run and the DataOptions."""
  flags.DEFINE_string("input_file", None,
                      "Input raw text file (or comma-separated list of files, globs allowed): "
                      "one sentence per line, a blank line between documents.")
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.")
  flags.DEFINE_string("output_dir", None,
                      "Per-file mode (instead of --output_file): each input file on its own -> "
                      "<output_dir>/<input file name>.tfrecord, as if run alone with the same "
                      "flags and seed. Outputs that exist are skipped.")
  flags.DEFINE_bool("overwrite", False,
                    "Per-file mode: redo files whose outputs exist (by default they are "
                    "complete and skipped).")
  flags.DEFINE_bool("dry_run", False,
                    "Check the flags, vocabulary, input files and output locations, then stop: "
                    "nothing is written. Local files are read; gs:// (any URL) paths are "
                    "checked for their form only, not contacted.")
  command.define_flags(create_pretraining_data.DataOptions, DATA_OPTION_HELPS)


def data_options():
  return command.options_from_flags(create_pretraining_data.DataOptions)
