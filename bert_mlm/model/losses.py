"""The pretraining losses and evaluation metrics, defined once for the heads, training and eval.

The model gives each prediction's loss (the label's negative log-prob); this module reduces
them. Its users:
  heads.get_masked_lm_output / get_next_sentence_output   the original's per-batch losses
  train_step   pretraining_losses with the global batch's denominators: total_loss is the
               quantity optimized, computed once per (micro-)batch
  evaluation   metric_sums per batch, added across replicas, then the original's metric_fn
               values (metrics) and each batch's total_loss (total_loss)

  masked LM      the label's negative log-prob at each prediction, averaged with the label
                 weights: sum(w * loss) / (sum(w) + 1e-5). The 1e-5 is the original's: a batch
                 with no predictions gives 0, not NaN.
  next sentence  the mean negative log-prob of the label over examples.
  total          their sum.

Under tf.distribute each replica holds a share of the global batch. Given the global
denominators (`global_denominators`), each replica's loss is its share of the global batch's
loss, so the shares add up to one device's loss on the whole batch, and so do the gradients.

Shapes: B batch, P max_predictions_per_seq.
"""

import numpy as np
import tensorflow as tf

MASKED_LM_EPSILON = 1e-5
LOSS_NAMES = ("total_loss", "masked_lm_loss", "next_sentence_loss")


def masked_lm_loss(per_example_loss, label_weights, weight_sum=None):
  """The weighted mean of the masked LM losses.

  Args:
    per_example_loss: float32 [B * P].
    label_weights: [B, P] or [B * P] (1.0 real prediction, 0.0 padding).
    weight_sum: the weights' sum over the global batch; None: over these weights.
  """
  label_weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
  if weight_sum is None:
    weight_sum = tf.reduce_sum(label_weights)
  return _weighted_mean(tf.reduce_sum(label_weights * per_example_loss), weight_sum)


def _weighted_mean(loss_sum, weight_sum):
  return loss_sum / (weight_sum + MASKED_LM_EPSILON)


def next_sentence_loss(per_example_loss, batch_size=None):
  """The mean of the next sentence losses [B]; over `batch_size` examples when given (the
  global batch), else over these."""
  if batch_size is None:
    return tf.reduce_mean(per_example_loss)
  return tf.reduce_sum(per_example_loss) / batch_size


def global_denominators(batches):
  """{masked_lm_weight_sum, batch_size} of `batches` (feature dicts) on all replicas together.

  Call in a replica context; several batches are the micro-batches of one accumulated step.
  """
  ctx = tf.distribute.get_replica_context()
  weight_sum = tf.add_n([tf.reduce_sum(b["masked_lm_weights"]) for b in batches])
  batch_size = tf.add_n([tf.cast(tf.shape(b["next_sentence_labels"])[0], tf.float32)
                         for b in batches])
  return ctx.all_reduce("sum", {"masked_lm_weight_sum": weight_sum, "batch_size": batch_size})


def pretraining_losses(outputs, features, denominators=None):
  """{total_loss, masked_lm_loss, next_sentence_loss} from the heads' per-example losses.

  denominators: from `global_denominators` for a replica's share; None: this batch alone.
  """
  denominators = denominators or {}
  masked_lm = masked_lm_loss(outputs["masked_lm_example_loss"], features["masked_lm_weights"],
                             denominators.get("masked_lm_weight_sum"))
  next_sentence = next_sentence_loss(outputs["next_sentence_example_loss"],
                                     denominators.get("batch_size"))
  return {"total_loss": masked_lm + next_sentence, "masked_lm_loss": masked_lm,
          "next_sentence_loss": next_sentence}


def metric_sums(outputs, features):
  """The sums the original's metric_fn accumulates, for one batch (add them across batches and
  replicas, then `metrics`)."""
  weights = tf.reshape(tf.cast(features["masked_lm_weights"], tf.float32), [-1])
  labels = tf.reshape(tf.cast(features["masked_lm_ids"], tf.int32), [-1])
  predictions = tf.argmax(outputs["masked_lm_log_probs"], axis=-1, output_type=tf.int32)
  ns_labels = tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1])
  ns_predictions = tf.argmax(outputs["next_sentence_log_probs"], axis=-1, output_type=tf.int32)
  return {
      "masked_lm_correct": tf.reduce_sum(weights * tf.cast(tf.equal(predictions, labels),
                                                           tf.float32)),
      "masked_lm_loss_sum": tf.reduce_sum(weights * outputs["masked_lm_example_loss"]),
      "masked_lm_weight": tf.reduce_sum(weights),
      "next_sentence_correct": tf.reduce_sum(tf.cast(tf.equal(ns_predictions, ns_labels),
                                                     tf.float32)),
      "next_sentence_loss_sum": tf.reduce_sum(outputs["next_sentence_example_loss"]),
      "next_sentence_count": tf.cast(tf.shape(ns_labels)[0], tf.float32),
  }


def total_loss(sums):
  """A batch's total_loss (the original's, with its 1e-5) from the batch's `metric_sums`, added
  across replicas."""
  return (_weighted_mean(sums["masked_lm_loss_sum"], sums["masked_lm_weight"]) +
          sums["next_sentence_loss_sum"] / sums["next_sentence_count"])


def metrics(sums):
  """The original's metric_fn values from summed `metric_sums` (numbers; float64 sums rounded
  to float32, as its streaming metrics report them)."""
  def ratio(numerator, denominator):
    return float(np.float32(sums[numerator] / sums[denominator])) if sums[denominator] else 0.0
  return {
      "masked_lm_accuracy": ratio("masked_lm_correct", "masked_lm_weight"),
      "masked_lm_loss": ratio("masked_lm_loss_sum", "masked_lm_weight"),
      "next_sentence_accuracy": ratio("next_sentence_correct", "next_sentence_count"),
      "next_sentence_loss": ratio("next_sentence_loss_sum", "next_sentence_count"),
  }
