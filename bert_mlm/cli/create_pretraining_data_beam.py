"""Per-file pretraining data creation as an Apache Beam pipeline, on one machine or many.

The data flags of create_pretraining_data.py (per-file mode: --output_dir), plus Beam's pipeline
options, which are passed to Beam as they are. One element per input file; each output is
identical to what `create_pretraining_data.py --output_dir` writes for that file.

  # Locally, on every core:
  python create_pretraining_data_beam.py --input_file='shards/*.txt' --output_dir=records \\
      --vocab_file=vocab.txt --runner=DirectRunner --direct_num_workers=8 \\
      --direct_running_mode=multi_processing
  # On Dataflow (also --runner=FlinkRunner / SparkRunner with their own options):
  python create_pretraining_data_beam.py --input_file='gs://b/shards/*.txt' \\
      --output_dir=gs://b/records --vocab_file=gs://b/vocab.txt --runner=DataflowRunner \\
      --project=P --region=R --temp_location=gs://b/tmp --setup_file=./setup.py --num_workers=16

Needs the beam extra: pip install 'bert-mlm[beam]'. Here --num_workers is Beam's (Dataflow's
number of machines), and --max_memory_mb bounds the memory of one file in a worker.

Also `bert-mlm-create-pretraining-data-beam` and
`python -m bert_mlm.cli.create_pretraining_data_beam`.
"""

from absl import flags
from absl import logging

from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.cli import data_flags
from bert_mlm.errors import UsageError
from bert_mlm.training import dry_run

data_flags.define()
# Beam owns --num_workers (Dataflow's number of machines); the memory of a machine is the
# runner's to divide, so this one is per file.
flags.DEFINE_float("max_memory_mb", None,
                   "The memory one file may take in a worker (MB): larger input files are an "
                   "error before the job starts, naming them (shard them with shard_text.py).")

FLAGS = flags.FLAGS


def _parse_flags(argv):
  # Ours are parsed here; the rest (--runner=..., --project=...) are Beam's pipeline options.
  return FLAGS(argv, known_only=True)


def run(argv):
  """The command, its flags parsed; argv[1:] are Beam's pipeline options."""
  logging.set_verbosity(logging.INFO)
  with errors.one_line_errors("create_pretraining_data_beam.py"):
    pipeline_args = argv[1:]
    if any(arg.split("=")[0] in ("--output_file", "-output_file") for arg in pipeline_args):
      raise UsageError("The Beam pipeline writes one output per input file: give --output_dir, "
                       "not --output_file.")
    if FLAGS.output_dir is None:
      raise UsageError("--output_dir is required.")
    options = data_flags.data_options()
    if FLAGS.dry_run:
      dry_run.check_data_creation(FLAGS.input_file, None, FLAGS.vocab_file, options,
                                  output_dir=FLAGS.output_dir)
      return
    try:
      from bert_mlm.data import beam_pipeline  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise UsageError("Apache Beam is not installed (%s): pip install 'bert-mlm[beam]'."
                       % e) from None
    beam_pipeline.run(FLAGS.input_file, FLAGS.output_dir, FLAGS.vocab_file, options,
                      pipeline_args, overwrite=FLAGS.overwrite, max_memory_mb=FLAGS.max_memory_mb)


def main():
  command.run(run, __name__, required=("input_file", "vocab_file"), flags_parser=_parse_flags)


if __name__ == "__main__":
  main()
