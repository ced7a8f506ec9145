#!/usr/bin/env bash
# Runs a recipe with --dry_run added to each of its commands: every flag is parsed and checked by
# the real command line, local files are read (so the files a command reads must exist: dry-run
# a local recipe's training commands once its data is written), gs:// paths are checked for
# their form only; nothing is trained or written.
#
#   BUCKET=gs://my-bert TPU_NAME=my-tpu bash recipes/dry_run.sh recipes/bert_base_tpu_v3-8.sh
set -euo pipefail
recipe="$1"
shift
python3() { command python3 "$@" --dry_run; }
# The recipe runs in this shell, so its `python3` is the function above.
source "$recipe"
