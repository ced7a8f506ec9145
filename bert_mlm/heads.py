"""The original's pretraining heads (`run_pretraining.py`), and the model that joins them to BERT.

  cls/predictions/transform/dense/{kernel, bias}      masked LM transform, hidden activation
  cls/predictions/transform/LayerNorm/{gamma, beta}
  cls/predictions/output_bias                         [vocab_size]; output weights are tied to
                                                      bert/embeddings/word_embeddings
  cls/seq_relationship/{output_weights [2, H], output_bias [2]}

Shapes: B batch, S sequence length, P max_predictions_per_seq, H hidden, V vocab size.
"""

import keras
import tensorflow as tf

from bert_mlm import fused
from bert_mlm import modeling


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at `positions` of each sequence, as the original does (flat offsets).

  Args:
    sequence_tensor: [B, S, H].
    positions: int [B, P].
  Returns:
    [B * P, H].
  """
  shape = tf.shape(sequence_tensor)
  batch_size, seq_length, width = shape[0], shape[1], shape[2]
  flat_offsets = tf.reshape(tf.range(0, batch_size, dtype=tf.int32) * seq_length, [-1, 1])
  flat_positions = tf.reshape(tf.cast(positions, tf.int32) + flat_offsets, [-1])
  flat_sequence = tf.reshape(sequence_tensor, [batch_size * seq_length, width])
  return tf.gather(flat_sequence, flat_positions)


class MaskedLmHead(keras.layers.Layer):
  """`cls/predictions`: the original's get_masked_lm_output. The per-example loss is the label's
  negative log-prob read directly (`fused.softmax_cross_entropy`) rather than summed against a
  one-hot vector: the same number, every other term of that sum being an exact zero."""

  def __init__(self, config, name="predictions", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    c = self.config
    self.transform = _Transform(c)
    self.output_bias = self.add_weight(name="output_bias", shape=(c.vocab_size,),
                                       initializer="zeros")
    self.built = True

  def call(self, sequence_output, output_weights, positions, label_ids, label_weights):
    """Masked LM loss.

    Args:
      sequence_output: [B, S, H].
      output_weights: the word embedding table [V, H].
      positions, label_ids: int [B, P]; label_weights: float [B, P] (1.0 real, 0.0 padding).
    Returns:
      (loss: scalar, per_example_loss: [B * P], log_probs: [B * P, V]); the loss is the
      label-weighted mean, with 1e-5 added to the weight sum as the original does.
    """
    input_tensor = self.transform(gather_indexes(sequence_output, positions))
    logits = tf.matmul(input_tensor, tf.cast(output_weights, input_tensor.dtype),
                       transpose_b=True)
    logits = tf.nn.bias_add(logits, tf.cast(self.output_bias, logits.dtype))
    logits = tf.cast(logits, tf.float32)  # [B * P, V]
    label_ids = tf.reshape(tf.cast(label_ids, tf.int32), [-1])
    label_weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
    per_example_loss = fused.softmax_cross_entropy(logits, label_ids)
    # Only evaluation reads these; a training step prunes them.
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    numerator = tf.reduce_sum(label_weights * per_example_loss)
    denominator = tf.reduce_sum(label_weights) + 1e-5
    return numerator / denominator, per_example_loss, log_probs


class _Transform(keras.layers.Layer):
  """`transform`: dense with the hidden activation, then LayerNorm."""

  def __init__(self, config, name="transform", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    c = self.config
    self.dense = modeling.dense_layer(c.hidden_size, c.hidden_size, c,
                                      activation=modeling.get_activation(c.hidden_act))
    self.layer_norm = modeling.LayerNorm(c.hidden_size)
    self.built = True

  def call(self, x):
    return self.layer_norm(self.dense(x))


class NextSentenceHead(keras.layers.Layer):
  """`cls/seq_relationship`: the original's get_next_sentence_output."""

  def __init__(self, config, name="seq_relationship", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    c = self.config
    self.output_weights = self.add_weight(
        name="output_weights", shape=(2, c.hidden_size),
        initializer=modeling.create_initializer(c.initializer_range))
    self.output_bias = self.add_weight(name="output_bias", shape=(2,), initializer="zeros")
    self.built = True

  def call(self, pooled_output, labels):
    """pooled_output: [B, H]; labels: int [B, 1] or [B] (1 = random next).

    Returns (loss: scalar mean, per_example_loss: [B], log_probs: [B, 2]).
    """
    logits = tf.matmul(pooled_output, tf.cast(self.output_weights, pooled_output.dtype),
                       transpose_b=True)
    logits = tf.nn.bias_add(logits, tf.cast(self.output_bias, logits.dtype))
    logits = tf.cast(logits, tf.float32)
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    per_example_loss = fused.softmax_cross_entropy(logits, labels)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    return tf.reduce_mean(per_example_loss), per_example_loss, log_probs


class PretrainingHeads(keras.layers.Layer):
  """`cls`: the masked LM and next sentence heads."""

  def __init__(self, config, name="cls", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    self.predictions = MaskedLmHead(self.config)
    self.seq_relationship = NextSentenceHead(self.config)
    self.built = True


FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                 "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")


class BertPretrainingModel(keras.Model):
  """BERT plus the pretraining heads: the original's model_fn up to the loss.

  Variables carry the original's TF1 names (`bert/...`, `cls/...`); see `variables_by_name`.
  """

  def __init__(self, config, name="bert_pretraining", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    # Built here, outside this model's name scope, so that paths start at `bert/` and `cls/`.
    self.bert = modeling.BertModel(config)
    self.cls = PretrainingHeads(config)
    self.built = True

  def variables_by_name(self):
    """{TF1 name: variable} of every model variable."""
    return variables_by_name(self)

  def call(self, features, training=False, masked_positions_only=False):
    """features: the seven pretraining features (see FEATURE_NAMES), [B, S] / [B, P] / [B, 1].

    Returns a dict: total_loss, masked_lm_loss, masked_lm_example_loss [B * P],
    masked_lm_log_probs [B * P, V], next_sentence_loss, next_sentence_example_loss [B],
    next_sentence_log_probs [B, 2], sequence_output [B, S, H], pooled_output [B, H].

    masked_positions_only: run the last encoder layer only where the heads read it (the masked
    positions and [CLS]; see BertModel's output_positions): the same losses and log-probs for
    less work (in BERT-Base, 6% of the step's FLOPs; 13% with 4 layers); sequence_output is then
    the rows at masked_lm_positions, [B, P, H].
    """
    positions = features["masked_lm_positions"]
    bert_outputs = self.bert(features["input_ids"], features["input_mask"],
                             features["segment_ids"], training=training,
                             output_positions=positions if masked_positions_only else None)
    if masked_positions_only:
      # sequence_output already holds the masked rows, in order.
      positions = tf.broadcast_to(tf.range(tf.shape(positions)[1]), tf.shape(positions))
    masked_lm_loss, masked_lm_example_loss, masked_lm_log_probs = self.cls.predictions(
        bert_outputs["sequence_output"], self.bert.embedding_table, positions,
        features["masked_lm_ids"], features["masked_lm_weights"])
    next_sentence_loss, next_sentence_example_loss, next_sentence_log_probs = (
        self.cls.seq_relationship(bert_outputs["pooled_output"],
                                  features["next_sentence_labels"]))
    return {
        "total_loss": masked_lm_loss + next_sentence_loss,
        "masked_lm_loss": masked_lm_loss,
        "masked_lm_example_loss": masked_lm_example_loss,
        "masked_lm_log_probs": masked_lm_log_probs,
        "next_sentence_loss": next_sentence_loss,
        "next_sentence_example_loss": next_sentence_example_loss,
        "next_sentence_log_probs": next_sentence_log_probs,
        "sequence_output": bert_outputs["sequence_output"],
        "pooled_output": bert_outputs["pooled_output"],
    }


def variables_by_name(model):
  """{variable path: variable} of a model whose paths are TF1 names; a repeated name is a bug."""
  names = {}
  for variable in model.weights:
    if variable.path in names:
      raise ValueError("Two variables share the name %s" % variable.path)
    names[variable.path] = variable
  return names
