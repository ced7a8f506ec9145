"""Draws a pretraining run's curves from its TensorBoard event files into one PNG.

`python plot_training.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/plot_training.py; installed, it is also
`bert-mlm-plot-training` and `python -m bert_mlm.cli.plot_training`.
"""

from bert_mlm.cli.plot_training import main
from bert_mlm.cli.plot_training import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
