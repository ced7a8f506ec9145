"""The command lines: one module per command, each its flags and one call into bert_mlm.

Each runs as `python -m bert_mlm.cli.<name>`, as the console script `bert-mlm-<name>` (with
dashes; see setup.py), and through the repository's top-level `<name>.py` (the original's
command lines). `command` and `data_flags` are what the commands share.
"""
