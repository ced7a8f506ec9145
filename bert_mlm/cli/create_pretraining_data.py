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

Also `bert-mlm-create-pretraining-data` and `python -m bert_mlm.cli.create_pretraining_data`.
"""

from absl import flags
from absl import logging

from bert_mlm import create_pretraining_data
from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.cli import data_flags
from bert_mlm.data import per_file
from bert_mlm.errors import UsageError
from bert_mlm.training import dry_run

data_flags.define()
flags.DEFINE_string("output_file", None,
                    "Output TF example file (or comma-separated list of files); examples are "
                    "written round-robin over them.")
flags.DEFINE_integer("num_workers", None,
                     "Per-file mode: worker processes, largest files first (default: the number "
                     "of CPUs; 1 = in this process).")
flags.DEFINE_float("max_memory_mb", None,
                   "Per-file mode: memory budget of the whole run in MB; a file starts only if "
                   "the estimated peaks of the files in flight fit (default: 90%% of the "
                   "available memory).")

FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  with errors.one_line_errors("create_pretraining_data.py"):
    options = data_flags.data_options()
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


def main():
  command.run(run, __name__, required=("input_file", "vocab_file"))


if __name__ == "__main__":
  main()
