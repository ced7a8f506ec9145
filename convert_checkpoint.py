"""Converts checkpoints between the original BERT (TF1) and Hugging Face transformers, both ways.

`python convert_checkpoint.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/convert_checkpoint.py; installed, it is also
`bert-mlm-convert-checkpoint` and `python -m bert_mlm.cli.convert_checkpoint`.
"""

from bert_mlm.cli.convert_checkpoint import main
from bert_mlm.cli.convert_checkpoint import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
