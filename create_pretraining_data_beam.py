"""Per-file pretraining data creation as an Apache Beam pipeline, on one machine or many.

`python create_pretraining_data_beam.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/create_pretraining_data_beam.py; installed, it is also
`bert-mlm-create-pretraining-data-beam` and `python -m bert_mlm.cli.create_pretraining_data_beam`.
"""

from bert_mlm.cli.create_pretraining_data_beam import main
from bert_mlm.cli.create_pretraining_data_beam import run  # pylint: disable=unused-import

if __name__ == "__main__":
  main()
