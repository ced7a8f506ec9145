"""Cuts pretraining text into shards at document boundaries (blank lines), for per-file mode.

Streams the input with constant memory; the shards are balanced by size, the same input always
gives the same shards, and the shards read one after another are the input's documents.

  python shard_text.py --input_file=wiki.txt --output_dir=shards --num_shards=256
  python shard_text.py --input_file='books/*.txt,wiki.txt' --output_dir=shards \\
      --shard_megabytes=50
  -> shards/wiki-00000-of-00256.txt ... (named after the first input file)

Also `bert-mlm-shard-text` and `python -m bert_mlm.cli.shard_text`.
"""

from absl import flags
from absl import logging

from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.data import sharding

flags.DEFINE_string("input_file", None,
                    "Input raw text (comma-separated paths or globs; several files are one "
                    "stream): one sentence per line, a blank line between documents.")
flags.DEFINE_string("output_dir", None, "Where the shards go (created if missing).")
flags.DEFINE_integer("num_shards", None, "How many shards (or --shard_megabytes).")
flags.DEFINE_float("shard_megabytes", None,
                   "Size of a shard in MB (1e6 bytes); the number of shards is the input size "
                   "over it, rounded up.")
flags.DEFINE_bool("overwrite", False,
                  "Replace earlier shards of the same name in --output_dir.")

FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  with errors.one_line_errors("shard_text.py"):
    sharding.shard_text(FLAGS.input_file, FLAGS.output_dir, num_shards=FLAGS.num_shards,
                          shard_megabytes=FLAGS.shard_megabytes, overwrite=FLAGS.overwrite)


def main():
  command.run(run, __name__, required=("input_file", "output_dir"))


if __name__ == "__main__":
  main()
