#!/usr/bin/env bash
# BERT-Base from scratch on one Cloud TPU v3-8, every path on Cloud Storage: the original's
# two-phase recipe. Phase 1 trains 90% of the steps at sequence length 128; phase 2 starts from
# phase 1's last checkpoint and trains the last 10% at length 512 (the position embeddings past
# 128 are learned there). 1M steps of 256 sequences, learning rate 1e-4, 10k warmup steps, linear
# decay: the paper's BERT-Base run.
#
#   BUCKET=gs://my-bert TPU_NAME=my-tpu bash recipes/bert_base_tpu_v3-8.sh
#
# Expects plain text (one sentence per line, a blank line between documents) under
# $BUCKET/text/ and the uncased vocabulary at $VOCAB. Add --dry_run to each command (or run
# recipes/dry_run.sh) to check the flags without running anything.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BUCKET:?set BUCKET to your bucket, e.g. BUCKET=gs://my-bert}"
: "${TPU_NAME:?set TPU_NAME to the name of your Cloud TPU v3-8}"
VOCAB="${VOCAB:-$BUCKET/uncased_L-12_H-768_A-12/vocab.txt}"
DATA="$BUCKET/data"
OUT="$BUCKET/bert_base"

# The data, once per sequence length; max_predictions_per_seq is about max_seq_length * 0.15.
# (For a large corpus run one command per text shard, in parallel, each with its own output.)
python3 create_pretraining_data.py \
  --input_file="$BUCKET/text/*.txt" --output_file="$DATA/seq128/pretraining.tfrecord" \
  --vocab_file="$VOCAB" --do_lower_case=True \
  --max_seq_length=128 --max_predictions_per_seq=20 --masked_lm_prob=0.15 \
  --random_seed=12345 --dupe_factor=5
python3 create_pretraining_data.py \
  --input_file="$BUCKET/text/*.txt" --output_file="$DATA/seq512/pretraining.tfrecord" \
  --vocab_file="$VOCAB" --do_lower_case=True \
  --max_seq_length=512 --max_predictions_per_seq=80 --masked_lm_prob=0.15 \
  --random_seed=12345 --dupe_factor=5

# Phase 1: steps 0 -> 900,000 at length 128.
python3 run_pretraining.py \
  --use_tpu=True --tpu_name="$TPU_NAME" --num_tpu_cores=8 \
  --bert_config_file=configs/bert_base_uncased.json --vocab_file="$VOCAB" \
  --input_file="$DATA/seq128/*.tfrecord" --output_dir="$OUT/phase1" \
  --do_train=True --do_eval=True \
  --train_batch_size=256 --eval_batch_size=64 --max_eval_steps=100 \
  --max_seq_length=128 --max_predictions_per_seq=20 \
  --num_train_steps=900000 --num_warmup_steps=10000 --learning_rate=1e-4 \
  --save_checkpoints_steps=10000 --iterations_per_loop=1000

# Phase 2: 100,000 steps at length 512 from phase 1's weights (--init_checkpoint, a directory:
# its `checkpoint` file names model.ckpt-900000), the learning rate from 1e-5 down to 0 as the
# last tenth of the 1M-step decay, after 1k warmup steps for the fresh Adam moments. 256
# sequences of 512 per step as two accumulated batches of 128, so that a core holds 16 at a time.
python3 run_pretraining.py \
  --use_tpu=True --tpu_name="$TPU_NAME" --num_tpu_cores=8 \
  --bert_config_file=configs/bert_base_uncased.json --vocab_file="$VOCAB" \
  --input_file="$DATA/seq512/*.tfrecord" --output_dir="$OUT/phase2" \
  --init_checkpoint="$OUT/phase1" \
  --do_train=True --do_eval=True \
  --train_batch_size=128 --gradient_accumulation_steps=2 --eval_batch_size=64 \
  --max_eval_steps=100 --max_seq_length=512 --max_predictions_per_seq=80 \
  --num_train_steps=100000 --num_warmup_steps=1000 --learning_rate=1e-5 \
  --save_checkpoints_steps=10000 --iterations_per_loop=1000

# The release-sized checkpoint (no Adam slots).
python3 strip_checkpoint.py \
  --input_checkpoint="$OUT/phase2" --output_checkpoint="$OUT/release/bert_model.ckpt"
