"""Creates masked LM / next sentence pretraining TFRecords from raw text.

`python create_pretraining_data.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/create_pretraining_data.py; installed, it is also
`bert-mlm-create-pretraining-data` and `python -m bert_mlm.cli.create_pretraining_data`.
"""

from bert_mlm.cli.create_pretraining_data import main
from bert_mlm.cli.create_pretraining_data import run  # pylint: disable=unused-import

if __name__ == "__main__":
  main()
