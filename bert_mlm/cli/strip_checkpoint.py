"""Copies a training checkpoint without its optimizer slots (released-model size).

Training checkpoints hold every weight three times (value, adam_m, adam_v); the released
`bert_model.ckpt` files hold only the values. The output is a TF1-format checkpoint with the
original's names, readable by the original's code and by every converter built for it.

  python strip_checkpoint.py --input_checkpoint=out/model.ckpt-100000 \\
      --output_checkpoint=release/bert_model.ckpt

Both may be gs:// URLs; --input_checkpoint may be a directory (its `checkpoint` file names the
latest).

Also `bert-mlm-strip-checkpoint` and `python -m bert_mlm.cli.strip_checkpoint`.
"""

from absl import flags
from absl import logging

from bert_mlm import allocator
from bert_mlm.storage import checkpoints
from bert_mlm.training import dry_run
from bert_mlm import errors
from bert_mlm.cli import command

flags.DEFINE_string("input_checkpoint", None,
                    "Checkpoint prefix (or a directory with a `checkpoint` file) to read.")
flags.DEFINE_string("output_checkpoint", None,
                    "Checkpoint prefix to write (its directory is created if need be).")
flags.DEFINE_bool("dry_run", False,
                  "Check the flags and the input checkpoint, then stop: nothing is written. "
                  "gs:// (any URL) paths are checked for their form only, not contacted.")
FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  allocator.tune_malloc()  # before TensorFlow allocates the step's buffers
  with errors.one_line_errors("strip_checkpoint.py"):
    if FLAGS.dry_run:
      dry_run.check_strip(FLAGS.input_checkpoint, FLAGS.output_checkpoint)
      return
    kept = checkpoints.strip_optimizer_slots(FLAGS.input_checkpoint, FLAGS.output_checkpoint)
  logging.info("Wrote %s with %d variables (optimizer slots removed).", FLAGS.output_checkpoint,
               len(kept))


def main():
  command.run(run, __name__, required=("input_checkpoint", "output_checkpoint"))


if __name__ == "__main__":
  main()
