"""Per-file pretraining data creation as an Apache Beam pipeline, on one machine or many.

The flags of create_pretraining_data.py (per-file mode: --output_dir), plus Beam's pipeline
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

Needs the beam extra: pip install -e '.[beam]'. Here --num_workers is Beam's (Dataflow's number
of machines), and --max_memory_mb bounds the memory of one file in a worker.
"""

import dataclasses

from absl import app
from absl import flags
from absl import logging

import create_pretraining_data  # pylint: disable=unused-import  (defines the same flags)
from bert_mlm import errors
from bert_mlm import create_pretraining_data
from bert_mlm.errors import UsageError

FLAGS = flags.FLAGS
# Beam owns these here: --num_workers is Dataflow's number of machines, and memory per machine
# is the runner's to divide.
delattr(FLAGS, "num_workers")
delattr(FLAGS, "max_memory_mb")
flags.DEFINE_float("max_memory_mb", None,
                   "The memory one file may take in a worker (MB): larger input files are an "
                   "error before the job starts, naming them (shard them with shard_text.py).")


def _data_options():
  # Each DataOptions field is the flag of the same name (the original's names).
  return create_pretraining_data.DataOptions(**{field.name: FLAGS[field.name].value
                                         for field in dataclasses.fields(
                                             create_pretraining_data.DataOptions)})


def _parse_flags(argv):
  # Ours are parsed here; the rest (--runner=..., --project=...) are Beam's pipeline options.
  return FLAGS(argv, known_only=True)


def main(argv):
  logging.set_verbosity(logging.INFO)
  with errors.one_line_errors("create_pretraining_data_beam.py"):
    if FLAGS.output_file is not None:
      raise UsageError("The Beam pipeline writes one output per input file: give --output_dir, "
                       "not --output_file.")
    if FLAGS.output_dir is None:
      raise UsageError("--output_dir is required.")
    try:
      from bert_mlm.data import beam_pipeline  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise UsageError("Apache Beam is not installed (%s): pip install -e '.[beam]'." % e) from None
    beam_pipeline.run(FLAGS.input_file, FLAGS.output_dir, FLAGS.vocab_file, _data_options(),
                      argv[1:], overwrite=FLAGS.overwrite, max_memory_mb=FLAGS.max_memory_mb)


if __name__ == "__main__":
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("vocab_file")
  app.run(main, flags_parser=_parse_flags)
