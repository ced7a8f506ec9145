"""The peer for train_throughput.py: TensorFlow Model Garden's BERT pretraining step.

Runs inside the peer's own virtual environment (tf-models-official 2.20 with TensorFlow 2.20 and
tf-keras; `train_throughput.py --with_model_garden` creates it). BertEncoder + BertPretrainerV2
with its masked LM and a next sentence ClassificationHead, the losses of BERT pretraining
(weighted masked LM cross entropy + next sentence cross entropy), Model Garden's AdamWeightDecay
(weight decay 0.01 except LayerNorm / layer_norm / bias, global gradient clipping 1.0), one
tf.function train step, on the same synthetic batches as ours. Prints one JSON line:
{"sequences_per_second": ...}.

  <venv>/bin/python benchmarks/model_garden_peer.py --config BERT-Base --batch 8 --xla
"""

import argparse
import json
import time

import numpy as np
import tensorflow as tf
import tf_keras
from official.modeling.optimization import legacy_adamw
from official.nlp.modeling import layers
from official.nlp.modeling import models
from official.nlp.modeling import networks

CONFIGS = {
    "L4/H256/A4": dict(num_layers=4, hidden_size=256, num_attention_heads=4, inner_dim=1024),
    "BERT-Base": dict(num_layers=12, hidden_size=768, num_attention_heads=12, inner_dim=3072),
}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--config", choices=sorted(CONFIGS), required=True)
  parser.add_argument("--batch", type=int, required=True)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--predictions", type=int, default=20)
  parser.add_argument("--xla", action="store_true")
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--profile_dir", help="also trace --steps more steps with tf.profiler here")
  args = parser.parse_args()

  vocab = 30522
  config = CONFIGS[args.config]
  encoder = networks.BertEncoder(vocab_size=vocab, max_sequence_length=512, type_vocab_size=2,
                                 **config)
  pretrainer = models.BertPretrainerV2(
      encoder_network=encoder, mlm_activation=tf_keras.activations.gelu,
      mlm_initializer=tf_keras.initializers.TruncatedNormal(stddev=0.02),
      classification_heads=[layers.ClassificationHead(
          inner_dim=config["hidden_size"], num_classes=2, name="next_sentence")])
  optimizer = legacy_adamw.AdamWeightDecay(
      learning_rate=1e-4, epsilon=1e-6, weight_decay_rate=0.01,
      exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"], gradient_clip_norm=1.0)

  rng = np.random.RandomState(0)
  b, s, p = args.batch, args.seq, args.predictions
  positions = np.sort(np.stack([rng.choice(np.arange(1, s - 1), p, replace=False)
                                for _ in range(b)]), axis=1).astype(np.int32)
  features = dict(
      input_word_ids=tf.constant(rng.randint(0, vocab, (b, s)).astype(np.int32)),
      input_mask=tf.ones((b, s), tf.int32),
      input_type_ids=tf.constant(np.repeat([[0] * (s // 2) + [1] * (s - s // 2)], b, 0)
                                 .astype(np.int32)),
      masked_lm_positions=tf.constant(positions))
  label_ids = tf.constant(rng.randint(0, vocab, (b, p)).astype(np.int32))
  label_weights = tf.ones((b, p), tf.float32)
  ns_labels = tf.constant(rng.randint(0, 2, (b,)).astype(np.int32))

  @tf.function(jit_compile=args.xla)
  def train_step():
    with tf.GradientTape() as tape:
      outputs = pretrainer(features, training=True)
      mlm = tf_keras.losses.sparse_categorical_crossentropy(
          label_ids, tf.cast(outputs["mlm_logits"], tf.float32), from_logits=True)
      mlm_loss = tf.reduce_sum(mlm * label_weights) / (tf.reduce_sum(label_weights) + 1e-5)
      nsp_loss = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
          ns_labels, tf.cast(outputs["next_sentence"], tf.float32), from_logits=True))
      loss = mlm_loss + nsp_loss
    grads = tape.gradient(loss, pretrainer.trainable_variables)
    optimizer.apply_gradients(zip(grads, pretrainer.trainable_variables))
    return loss

  for _ in range(args.warmup):
    train_step().numpy()
  start, cpu_start = time.time(), time.process_time()
  for _ in range(args.steps):
    loss = train_step()
  loss.numpy()
  seconds = time.time() - start
  cpu_seconds = time.process_time() - cpu_start
  if args.profile_dir:
    tf.profiler.experimental.start(args.profile_dir)
    for _ in range(args.steps):
      loss = train_step()
    loss.numpy()
    tf.profiler.experimental.stop()
  print(json.dumps({"sequences_per_second": args.steps * b / seconds,
                    "cpu_seconds_per_sequence": cpu_seconds / (args.steps * b)}))


if __name__ == "__main__":
  main()
