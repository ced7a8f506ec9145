"""BERT with the pretraining heads: the original's `model_fn` up to the loss, as one Keras model.

The model gives each prediction's loss and log-probs; the batch's loss is `losses`' (the step's
over the global batch, evaluation's per batch).

Variables carry the original's TF1 names (`bert/...` from modeling, `cls/...` from heads), so
`variables_by_name()` is what checkpoints read and write.

Shapes: B batch, S sequence length, P max_predictions_per_seq, H hidden, V vocab size.
"""

import keras
import tensorflow as tf

from bert_mlm.model import heads
from bert_mlm.model import mixed_precision
from bert_mlm import modeling


class BertPretrainingModel(keras.Model):
  """BertModel + masked LM head + next sentence head."""

  def __init__(self, config, name="bert_pretraining", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    # Built here, outside this model's name scope, so that paths start at `bert/` and `cls/`.
    self.bert = modeling.BertModel(config)
    self.cls = heads.PretrainingHeads(config)
    self.built = True

  def variables_by_name(self):
    """{TF1 name: variable} of every model variable."""
    return variables_by_name(self)

  def call(self, features, training=False, masked_positions_only=False):
    """features: a pretraining batch (`schema`): [B, S] / [B, P] / [B, 1].

    Returns a dict: masked_lm_example_loss [B * P], masked_lm_log_probs [B * P, V],
    next_sentence_example_loss [B], next_sentence_log_probs [B, 2], sequence_output [B, S, H],
    pooled_output [B, H]. The batch's losses are `losses.pretraining_losses(outputs, features)`
    (the original's model_fn: total_loss = masked_lm_loss + next_sentence_loss).

    masked_positions_only: run the last encoder layer only where the heads read it (the masked
    positions and [CLS]; see BertModel's output_positions): the same losses and log-probs for
    less work; sequence_output is then the rows at masked_lm_positions, [B, P, H].
    """
    positions = features["masked_lm_positions"]
    bert_outputs = self.bert(features["input_ids"], features["input_mask"],
                             features["segment_ids"], training=training,
                             output_positions=positions if masked_positions_only else None)
    if masked_positions_only:
      # sequence_output already holds the masked rows, in order.
      positions = tf.broadcast_to(tf.range(tf.shape(positions)[1]), tf.shape(positions))
    masked_lm_example_loss, masked_lm_log_probs = self.cls.predictions(
        bert_outputs["sequence_output"], self.bert.embedding_table, positions,
        features["masked_lm_ids"])
    next_sentence_example_loss, next_sentence_log_probs = self.cls.seq_relationship(
        bert_outputs["pooled_output"], features["next_sentence_labels"])
    return {
        "masked_lm_example_loss": masked_lm_example_loss,
        "masked_lm_log_probs": masked_lm_log_probs,
        "next_sentence_example_loss": next_sentence_example_loss,
        "next_sentence_log_probs": next_sentence_log_probs,
        "sequence_output": bert_outputs["sequence_output"],
        "pooled_output": bert_outputs["pooled_output"],
    }


def create_model(config, mixed_precision_mode=""):
  """The pretraining model computing in `mixed_precision_mode` ("", "bf16", "fp16"), variables
  float32 in every mode. Call under the strategy's scope to place its variables."""
  with mixed_precision.policy_scope(mixed_precision_mode):
    return BertPretrainingModel(config)


def variables_by_name(model):
  """{variable path: variable} of a model whose paths are TF1 names; a repeated name is a bug."""
  names = {}
  for variable in model.weights:
    if variable.path in names:
      raise ValueError("Two variables share the name %s" % variable.path)
    names[variable.path] = variable
  return names
