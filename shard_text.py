"""Cuts pretraining text into shards at document boundaries (blank lines), for per-file mode.

`python shard_text.py ...`, as in the original. The command (its flags, --help) is
bert_mlm/cli/shard_text.py; installed, it is also
`bert-mlm-shard-text` and `python -m bert_mlm.cli.shard_text`.
"""

from bert_mlm.cli.shard_text import main
from bert_mlm.cli.shard_text import run  # pylint: disable=unused-import  (main after flags)

if __name__ == "__main__":
  main()
