"""Learns a WordPiece vocabulary from raw text, in the layout of the released BERT vocabularies.

`python create_vocab.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/create_vocab.py; installed, it is also
`bert-mlm-create-vocab` and `python -m bert_mlm.cli.create_vocab`.
"""

from bert_mlm.cli.create_vocab import main
from bert_mlm.cli.create_vocab import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
