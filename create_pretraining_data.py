"""Creates masked LM / next sentence pretraining TFRecords from raw text.

The original BERT `create_pretraining_data.py` command line, on TensorFlow 2 (TensorFlow itself
is not even imported for local files). Same flags, same defaults; with the same input, vocabulary
and seed it writes the same examples, in the same order and the same output files.

  python create_pretraining_data.py --input_file=corpus.txt --output_file=out.tfrecord \\
      --vocab_file=vocab.txt --do_lower_case=True --max_seq_length=128 \\
      --max_predictions_per_seq=20 --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=5

Per-file mode, for a corpus cut into shards (shard_text.py): with --output_dir instead of
--output_file, every input file is processed on its own, exactly as the command above would
process that file alone, into <output_dir>/<input file name>.tfrecord; files run in parallel on
--num_workers processes within --max_memory_mb, outputs that exist are skipped (a rerun after a
crash finishes the rest), and a file that fails doesn't stop the others:

  python create_pretraining_data.py --input_file='shards/*.txt' --output_dir=records \\
      --vocab_file=vocab.txt --num_workers=8 --max_memory_mb=16000 ...
"""

from absl import app
from absl import flags
from absl import logging

from bert_mlm.training import dry_run
from bert_mlm import chinese_words
from bert_mlm import errors
from bert_mlm.data import per_file
from bert_mlm import create_pretraining_data
from bert_mlm.errors import UsageError

flags.DEFINE_string("input_file", None,
                    "Input raw text file (or comma-separated list of files, globs allowed): "
                    "one sentence per line, a blank line between documents.")
flags.DEFINE_string("output_file", None,
                    "Output TF example file (or comma-separated list of files); examples are "
                    "written round-robin over them.")
flags.DEFINE_string("output_dir", None,
                    "Per-file mode (instead of --output_file): each input file on its own -> "
                    "<output_dir>/<input file name>.tfrecord, as if run alone with the same flags "
                    "and seed. Outputs that exist are skipped.")
flags.DEFINE_integer("num_workers", None,
                     "Per-file mode: worker processes, largest files first (default: the number "
                     "of CPUs; 1 = in this process).")
flags.DEFINE_float("max_memory_mb", None,
                   "Per-file mode: memory budget of the whole run in MB; a file starts only if "
                   "the estimated peaks of the files in flight fit (default: 90%% of the "
                   "available memory).")
flags.DEFINE_bool("overwrite", False,
                  "Per-file mode: redo files whose outputs exist (by default they are complete "
                  "and skipped).")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_bool("do_lower_case", True,
                  "Whether to lower case the input text. Should be True for uncased models and "
                  "False for cased models.")
flags.DEFINE_bool("do_whole_word_mask", False,
                  "Whether to use whole word masking rather than per-WordPiece masking.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20,
                     "Maximum number of masked LM predictions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
flags.DEFINE_integer("dupe_factor", 10,
                     "Number of times to duplicate the input data (with different masks).")
flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
flags.DEFINE_float("short_seq_prob", 0.1,
                   "Probability of creating sequences which are shorter than the maximum length.")
flags.DEFINE_bool("preserve_unused_tokens", False,
                  "If True, words that are [unusedN] vocabulary tokens are kept whole instead of "
                  "being split by punctuation and WordPiece (the PyPI release's option).")
flags.DEFINE_bool("dry_run", False,
                  "Check the flags, vocabulary, input files and output locations, then stop: "
                  "nothing is written. Local files are read; gs:// (any URL) paths are checked "
                  "for their form only, not contacted.")
flags.DEFINE_bool("dynamic_masking", False,
                  "Not in the original: write the next sentence pairs without masks (input_ids, "
                  "input_mask, segment_ids, next_sentence_labels); run_pretraining.py "
                  "--dynamic_masking=True then masks every batch afresh, so --dupe_factor=1 is "
                  "usual and --masked_lm_prob, --max_predictions_per_seq and "
                  "--do_whole_word_mask are set there instead.")
flags.DEFINE_enum("chinese_whole_word_mask",
                  create_pretraining_data.DataOptions.chinese_whole_word_mask,
                  chinese_words.SEGMENTERS,
                  "Not in the original: whole-word masking with Chinese words (implies "
                  "--do_whole_word_mask). A CJK character that continues a word is grouped with "
                  "the token before it, as a ## piece is; ids and labels stay the characters'. "
                  "jieba: words of jieba.cut on each line (pip install -e '.[zh]'); "
                  "whitespace: the text is already segmented, words separated by spaces "
                  "(tokens are those of the text without them). With --dynamic_masking the "
                  "records carry the words for run_pretraining.py --do_whole_word_mask=True.")

FLAGS = flags.FLAGS


def main(_):
  logging.set_verbosity(logging.INFO)
  options = create_pretraining_data.DataOptions(
      do_lower_case=FLAGS.do_lower_case,
      do_whole_word_mask=FLAGS.do_whole_word_mask,
      max_seq_length=FLAGS.max_seq_length,
      max_predictions_per_seq=FLAGS.max_predictions_per_seq,
      random_seed=FLAGS.random_seed,
      dupe_factor=FLAGS.dupe_factor,
      masked_lm_prob=FLAGS.masked_lm_prob,
      short_seq_prob=FLAGS.short_seq_prob,
      preserve_unused_tokens=FLAGS.preserve_unused_tokens,
      dynamic_masking=FLAGS.dynamic_masking,
      chinese_whole_word_mask=FLAGS.chinese_whole_word_mask)
  with errors.one_line_errors("create_pretraining_data.py"):
    if (FLAGS.output_file is None) == (FLAGS.output_dir is None):
      raise UsageError("Give exactly one of --output_file (the original's single run) and "
                       "--output_dir (one output per input file).")
    if FLAGS.output_file is not None:
      for name in ("num_workers", "max_memory_mb", "overwrite"):
        if FLAGS[name].present:
          raise UsageError("--%s is for the per-file mode (--output_dir); --output_file makes "
                           "one run over all inputs, as the original." % name)
    if FLAGS.dry_run:
      dry_run.check_data_creation(FLAGS.input_file, FLAGS.output_file, FLAGS.vocab_file, options,
                                  output_dir=FLAGS.output_dir)
    elif FLAGS.output_file is not None:
      create_pretraining_data.create_pretraining_data(FLAGS.input_file, FLAGS.output_file,
                                               FLAGS.vocab_file, options)
    else:
      per_file.create_per_file(FLAGS.input_file, FLAGS.output_dir, FLAGS.vocab_file, options,
                               num_workers=FLAGS.num_workers, max_memory_mb=FLAGS.max_memory_mb,
                               overwrite=FLAGS.overwrite)


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("vocab_file")
  app.run(main)
