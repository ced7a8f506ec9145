"""Pretrains BERT (masked LM + next sentence) on TFRecords from create_pretraining_data.py.

`python run_pretraining.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/run_pretraining.py; installed, it is also
`bert-mlm-run-pretraining` and `python -m bert_mlm.cli.run_pretraining`.
"""

from bert_mlm.cli.run_pretraining import main
from bert_mlm.cli.run_pretraining import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
