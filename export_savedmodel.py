"""Exports a checkpoint as TensorFlow SavedModels in the TF Hub BERT convention.

`python export_savedmodel.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/export_savedmodel.py; installed, it is also
`bert-mlm-export-savedmodel` and `python -m bert_mlm.cli.export_savedmodel`.
"""

from bert_mlm.cli.export_savedmodel import main
from bert_mlm.cli.export_savedmodel import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
