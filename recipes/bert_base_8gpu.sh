#!/usr/bin/env bash
# BERT-Base from scratch on one host with 8 GPUs: the original's two-phase recipe, as in
# bert_base_tpu_v3-8.sh (90% of 1M steps at length 128, then the last 10% at 512 from phase 1's
# checkpoint; 256 sequences per step, learning rate 1e-4, 10k warmup steps), mirrored
# over the 8 GPUs with float16 compute (variables, slots and checkpoints stay float32).
#
#   WORK=/data/bert bash recipes/bert_base_8gpu.sh
#
# Expects plain text under $WORK/text/ and the uncased vocabulary at $VOCAB. Paths may as well
# be gs:// URLs. Add --dry_run to each command (or run recipes/dry_run.sh) to check the flags,
# files and config without running anything.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-/data/bert}"
VOCAB="${VOCAB:-$WORK/uncased_L-12_H-768_A-12/vocab.txt}"
DATA="$WORK/data"
OUT="$WORK/bert_base"

python3 create_pretraining_data.py \
  --input_file="$WORK/text/*.txt" --output_file="$DATA/seq128.tfrecord" \
  --vocab_file="$VOCAB" --do_lower_case=True \
  --max_seq_length=128 --max_predictions_per_seq=20 --masked_lm_prob=0.15 \
  --random_seed=12345 --dupe_factor=5
python3 create_pretraining_data.py \
  --input_file="$WORK/text/*.txt" --output_file="$DATA/seq512.tfrecord" \
  --vocab_file="$VOCAB" --do_lower_case=True \
  --max_seq_length=512 --max_predictions_per_seq=80 --masked_lm_prob=0.15 \
  --random_seed=12345 --dupe_factor=5

# Phase 1: steps 0 -> 900,000 at length 128, 32 sequences per GPU.
python3 run_pretraining.py \
  --distribution_strategy=mirrored --mixed_precision=fp16 \
  --bert_config_file=configs/bert_base_uncased.json --vocab_file="$VOCAB" \
  --input_file="$DATA/seq128.tfrecord" --output_dir="$OUT/phase1" \
  --do_train=True --do_eval=True \
  --train_batch_size=256 --eval_batch_size=64 --max_eval_steps=100 \
  --max_seq_length=128 --max_predictions_per_seq=20 \
  --num_train_steps=900000 --num_warmup_steps=10000 --learning_rate=1e-4 \
  --save_checkpoints_steps=10000 --iterations_per_loop=1000

# Phase 2: 100,000 steps at length 512 from phase 1's weights, learning rate 1e-5 (the last
# tenth of the 1M-step decay) after 1k warmup steps; 256 sequences per step as 4 accumulated
# batches of 64 (8 per GPU at a time).
python3 run_pretraining.py \
  --distribution_strategy=mirrored --mixed_precision=fp16 \
  --bert_config_file=configs/bert_base_uncased.json --vocab_file="$VOCAB" \
  --input_file="$DATA/seq512.tfrecord" --output_dir="$OUT/phase2" \
  --init_checkpoint="$OUT/phase1" \
  --do_train=True --do_eval=True \
  --train_batch_size=64 --gradient_accumulation_steps=4 --eval_batch_size=64 \
  --max_eval_steps=100 --max_seq_length=512 --max_predictions_per_seq=80 \
  --num_train_steps=100000 --num_warmup_steps=1000 --learning_rate=1e-5 \
  --save_checkpoints_steps=10000 --iterations_per_loop=1000

python3 strip_checkpoint.py \
  --input_checkpoint="$OUT/phase2" --output_checkpoint="$OUT/release/bert_model.ckpt"
