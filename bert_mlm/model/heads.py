"""The original's pretraining heads (its `run_pretraining.py`): masked LM and next sentence.

`get_masked_lm_output` and `get_next_sentence_output` are the original's functions, with its
signatures and return values `(loss, per_example_loss, log_probs)`. The original creates the
heads' variables inside them; here Keras layers own the variables (so that each variable's path
is its TF1 name) and pass them in as keyword arguments, and the functions are the computation:

  cls/predictions/transform/dense/{kernel, bias}      masked LM transform, hidden activation
  cls/predictions/transform/LayerNorm/{gamma, beta}
  cls/predictions/output_bias                         [V]; the output weights are tied to
                                                      bert/embeddings/word_embeddings
  cls/seq_relationship/{output_weights [2, H], output_bias [2]}

The layers run the heads without the batch's loss (`*_example_losses`): a training step's loss
is `losses.pretraining_losses` over the global batch, computed once, by the step.

Shapes: B batch, S sequence length, P max_predictions_per_seq, H hidden, V vocab size.
"""

import keras
import tensorflow as tf

from bert_mlm import kernels
from bert_mlm.model import losses
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


def masked_lm_example_losses(input_tensor, output_weights, positions, label_ids, *, transform,
                             output_bias):
  """The masked LM head on each prediction: gather the masked positions, transform, tied output
  layer, softmax.

  Args:
    input_tensor: the sequence output [B, S, H].
    output_weights: the word embedding table [V, H].
    positions, label_ids: int [B, P].
    transform: dense (H -> H, the config's hidden activation), then LayerNorm (`cls/predictions/
      transform`).
    output_bias: [V].
  Returns:
    (per_example_loss: [B * P], the label's negative log-prob; log_probs: [B * P, V]).
  """
  input_tensor = transform(gather_indexes(input_tensor, positions))
  logits = tf.matmul(input_tensor, tf.cast(output_weights, input_tensor.dtype), transpose_b=True)
  logits = tf.nn.bias_add(logits, tf.cast(output_bias, logits.dtype))
  logits = tf.cast(logits, tf.float32)  # softmax and losses in float32 under mixed precision
  label_ids = tf.reshape(tf.cast(label_ids, tf.int32), [-1])
  # The label's negative log-prob read directly, not summed against a one-hot vector: the same
  # number, every other term of that sum being an exact zero.
  per_example_loss = kernels.softmax_cross_entropy(logits, label_ids)
  log_probs = tf.nn.log_softmax(logits, axis=-1)  # only evaluation reads it; training prunes it
  return per_example_loss, log_probs


def get_masked_lm_output(bert_config, input_tensor, output_weights, positions, label_ids,
                         label_weights, *, transform, output_bias):
  """The original's function: the masked LM head and its loss on this batch.

  Args:
    bert_config: the BertConfig (the original builds the variables from it; here `transform`
      and `output_bias` were built from it).
    label_weights: float [B, P] (1.0 real prediction, 0.0 padding).
    The others: see masked_lm_example_losses.
  Returns:
    (loss: scalar, per_example_loss: [B * P], log_probs: [B * P, V]); the loss is
    `losses.masked_lm_loss`, the label-weighted mean with the original's 1e-5.
  """
  del bert_config  # its shapes are in the variables passed in
  per_example_loss, log_probs = masked_lm_example_losses(
      input_tensor, output_weights, positions, label_ids, transform=transform,
      output_bias=output_bias)
  return losses.masked_lm_loss(per_example_loss, label_weights), per_example_loss, log_probs


def next_sentence_example_losses(input_tensor, labels, *, output_weights, output_bias):
  """The next sentence head on each example: a 2-way softmax on the pooled output (label 1 =
  random next).

  Args:
    input_tensor: the pooled output [B, H].
    labels: int [B, 1] or [B].
    output_weights: [2, H]; output_bias: [2].
  Returns:
    (per_example_loss: [B], log_probs: [B, 2]).
  """
  logits = tf.matmul(input_tensor, tf.cast(output_weights, input_tensor.dtype), transpose_b=True)
  logits = tf.nn.bias_add(logits, tf.cast(output_bias, logits.dtype))
  logits = tf.cast(logits, tf.float32)
  labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
  return kernels.softmax_cross_entropy(logits, labels), tf.nn.log_softmax(logits, axis=-1)


def get_next_sentence_output(bert_config, input_tensor, labels, *, output_weights, output_bias):
  """The original's function: the next sentence head and its loss on this batch.

  Returns:
    (loss: scalar mean, per_example_loss: [B], log_probs: [B, 2]); see
    next_sentence_example_losses for the arguments.
  """
  del bert_config  # its shapes are in the variables passed in
  per_example_loss, log_probs = next_sentence_example_losses(
      input_tensor, labels, output_weights=output_weights, output_bias=output_bias)
  return losses.next_sentence_loss(per_example_loss), per_example_loss, log_probs


class MaskedLmHead(keras.layers.Layer):
  """`cls/predictions`: the variables of get_masked_lm_output; its call runs the head."""

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

  def call(self, sequence_output, output_weights, positions, label_ids):
    """(per_example_loss, log_probs): see masked_lm_example_losses."""
    return masked_lm_example_losses(sequence_output, output_weights, positions, label_ids,
                                    transform=self.transform, output_bias=self.output_bias)


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
  """`cls/seq_relationship`: the variables of get_next_sentence_output; its call runs the
  head."""

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
    """(per_example_loss, log_probs): see next_sentence_example_losses."""
    return next_sentence_example_losses(pooled_output, labels,
                                        output_weights=self.output_weights,
                                        output_bias=self.output_bias)


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
