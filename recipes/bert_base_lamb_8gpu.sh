#!/usr/bin/env bash
# BERT-Base with LAMB and large batches on one host with 8 GPUs, by gradient accumulation: the
# same two phases and the same number of sequences as the original's recipe (230.4M at length
# 128, then 25.6M at 512), in 32x fewer, 32x larger steps at length 128 (8192 sequences) and 16x
# at 512 (4096 sequences). LAMB's layer-wise trust ratio is what keeps such batches stable (the
# LAMB paper trains BERT at 32K-64K). The learning rates follow LAMB's square-root scaling with
# the batch; they are a starting point, not tuned here (no GPU host was lent to try them).
#
#   WORK=/data/bert bash recipes/bert_base_lamb_8gpu.sh
#
# Reads the TFRecords that bert_base_8gpu.sh's two create_pretraining_data.py commands write.
# Each phase has its own schedule (warmup, then linear decay to 0), so phase 2 starts from
# phase 1's weights in a new --output_dir (--init_checkpoint: weights only, fresh LAMB moments).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-/data/bert}"
VOCAB="${VOCAB:-$WORK/uncased_L-12_H-768_A-12/vocab.txt}"
DATA="$WORK/data"
OUT="$WORK/bert_base_lamb"

# Phase 1: 28,125 steps of 8192 = 256 per micro-batch (32 per GPU) x 32 accumulated.
python3 run_pretraining.py \
  --optimizer=lamb --distribution_strategy=mirrored --mixed_precision=fp16 \
  --bert_config_file=configs/bert_base_uncased.json --vocab_file="$VOCAB" \
  --input_file="$DATA/seq128.tfrecord" --output_dir="$OUT/phase1" \
  --do_train=True --do_eval=True \
  --train_batch_size=256 --gradient_accumulation_steps=32 --eval_batch_size=64 \
  --max_eval_steps=100 --max_seq_length=128 --max_predictions_per_seq=20 \
  --num_train_steps=28125 --num_warmup_steps=2800 --learning_rate=2e-3 \
  --save_checkpoints_steps=1000 --iterations_per_loop=100

# Phase 2: 6,250 steps of 4096 = 64 per micro-batch (8 per GPU) x 64 accumulated, from the last
# checkpoint of phase 1 (a directory: its `checkpoint` file names it).
python3 run_pretraining.py \
  --optimizer=lamb --distribution_strategy=mirrored --mixed_precision=fp16 \
  --bert_config_file=configs/bert_base_uncased.json --vocab_file="$VOCAB" \
  --input_file="$DATA/seq512.tfrecord" --output_dir="$OUT/phase2" \
  --init_checkpoint="$OUT/phase1" \
  --do_train=True --do_eval=True \
  --train_batch_size=64 --gradient_accumulation_steps=64 --eval_batch_size=64 \
  --max_eval_steps=100 --max_seq_length=512 --max_predictions_per_seq=80 \
  --num_train_steps=6250 --num_warmup_steps=800 --learning_rate=1.4e-3 \
  --save_checkpoints_steps=500 --iterations_per_loop=100

python3 strip_checkpoint.py \
  --input_checkpoint="$OUT/phase2" --output_checkpoint="$OUT/release/bert_model.ckpt"
