"""Draws a pretraining run's curves from its TensorBoard event files into one PNG.

Total, masked LM and next sentence loss and the learning rate by step, from run_pretraining.py's
--output_dir, with the evaluation points of <output_dir>/eval (and their accuracy):

  python plot_training.py --output_dir=out            # -> out/training_curves.png
  python plot_training.py --output_dir=out --output_file=curves.png

Needs the plot extra: pip install 'bert-mlm[plot]' (matplotlib and tensorboard).
Also `bert-mlm-plot-training` and `python -m bert_mlm.cli.plot_training`.
"""

from absl import flags
from absl import logging

from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.training import curves

flags.DEFINE_string("output_dir", None,
                    "run_pretraining.py's --output_dir: its event files (and those in "
                    "<output_dir>/eval) are read.")
flags.DEFINE_string("output_file", None,
                    "The PNG to write (default: <output_dir>/training_curves.png).")
flags.DEFINE_string("title", None, "The figure's title (default: --output_dir).")

FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  with errors.one_line_errors("plot_training.py"):
    path = curves.plot_training(FLAGS.output_dir, FLAGS.output_file, FLAGS.title)
  logging.info("Wrote %s", path)


def main():
  command.run(run, __name__, required=("output_dir",))


if __name__ == "__main__":
  main()
