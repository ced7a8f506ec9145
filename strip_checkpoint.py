"""Copies a training checkpoint without its optimizer slots (released-model size).

`python strip_checkpoint.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/strip_checkpoint.py; installed, it is also
`bert-mlm-strip-checkpoint` and `python -m bert_mlm.cli.strip_checkpoint`.
"""

from bert_mlm.cli.strip_checkpoint import main
from bert_mlm.cli.strip_checkpoint import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
