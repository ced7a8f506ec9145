"""The BERT encoder as Keras 3 layers, computing what the original's `modeling.BertModel` computes.

Every layer is named after the original's variable scope and builds its weights when constructed
(the shapes follow from the config), so each variable's Keras path is its TF1 name:

  bert/embeddings/{word_embeddings, token_type_embeddings, position_embeddings}
  bert/embeddings/LayerNorm/{gamma, beta}
  bert/encoder/layer_<i>/attention/self/{query, key, value}/{kernel, bias}
  bert/encoder/layer_<i>/attention/output/dense/{kernel, bias}
  bert/encoder/layer_<i>/attention/output/LayerNorm/{gamma, beta}
  bert/encoder/layer_<i>/intermediate/dense/{kernel, bias}
  bert/encoder/layer_<i>/output/dense/{kernel, bias}
  bert/encoder/layer_<i>/output/LayerNorm/{gamma, beta}
  bert/pooler/dense/{kernel, bias}

Shapes: B batch, S sequence length, H hidden size, N heads, D = H / N.
"""

import contextlib
import math

import keras
import tensorflow as tf

from bert_mlm import kernels
from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError

# The original's padding adder: a large negative logit, not -inf, so fully padded rows stay finite.
_MASK_ADDER = -10000.0
_LAYER_NORM_EPSILON = 1e-12


def gelu(x):
  """The original's `gelu`: the tanh approximation (transformers' `gelu_new`)."""
  return kernels.gelu(x)


def get_activation(name):
  """The original's activation by (case-insensitive) name; None for "linear" or empty.

  "gelu_exact" (the erf GELU, Hugging Face's "gelu") is ours, not the original's; see
  `config.BertConfig`.
  """
  if not isinstance(name, str):
    return name
  act = name.lower()
  if act in ("", "linear"):
    return None
  if act == "gelu":
    return kernels.gelu  # the tanh approximation, not the exact erf form
  if act == "gelu_exact":
    return kernels.gelu_exact
  if act == "relu":
    return tf.nn.relu
  if act == "tanh":
    return tf.tanh
  raise UsageError("Unsupported activation: %s" % name)


def create_initializer(initializer_range):
  """Truncated normal (at 2 stddev) with stddev `initializer_range`, as the original."""
  return keras.initializers.TruncatedNormal(stddev=initializer_range)


class LayerNorm(keras.layers.Layer):
  """Layer normalization over the last axis: variables `beta`, `gamma`; epsilon 1e-12.

  The same arithmetic as the original's contrib `layer_norm` (moments, then
  batch_normalization), as one fused kernel (`kernels.layer_norm`), so results agree to
  round-off. Always computed in float32, also under a mixed precision policy (Keras casts its
  inputs).
  """

  def __init__(self, width, name="LayerNorm", **kwargs):
    kwargs.setdefault("dtype", "float32")
    super().__init__(name=name, **kwargs)
    self.width = width
    self.build(None)

  def build(self, input_shape):
    self.beta = self.add_weight(name="beta", shape=(self.width,), initializer="zeros")
    self.gamma = self.add_weight(name="gamma", shape=(self.width,), initializer="ones")
    self.built = True

  def call(self, x):
    return kernels.layer_norm(x, self.gamma, self.beta, _LAYER_NORM_EPSILON)


class Dropout(keras.layers.Layer):
  """The original's dropout (tf.nn.dropout): zero each value with probability `rate` (a uniform
  draw below it), scale the kept ones by 1 / (1 - rate); the identity outside training.

  Keras' Dropout does the same with TensorFlow's default random algorithm ("auto_select"),
  which XLA compiles on CPU into a far slower generator than naming Philox, as here (measured
  in benchmarks/README.md). Seeded, like Keras', by
  keras.utils.set_random_seed; under tf.distribute each replica folds its id into the seed, so
  the replicas' shares of a batch get independent masks, as on one device.

  The mask is drawn in `call`, or drawn beforehand by `draw_keep` and given to the call (see
  BertModel.dropout_masks_given): the same mask either way, from the same generator state.
  """

  def __init__(self, rate, name=None, **kwargs):
    super().__init__(name=name, **kwargs)
    self.rate = rate
    self.seed_generator = keras.random.SeedGenerator()
    self.given_keep = None

  def draw_keep(self, shape):
    """The keep mask (bool, `shape`) of this layer's next training call; advances the generator."""
    seed = self.seed_generator.next()
    replica = tf.distribute.get_replica_context()
    if replica is not None:
      seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group,
                                                      alg="philox")
    # Stateless ops take an int32 seed (XLA needs it); the generator's state is int64.
    seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
    return tf.random.stateless_uniform(shape, seed, alg="philox") >= self.rate

  def call(self, x, training=False):
    if not training or not self.rate:
      return x
    keep = self.given_keep
    if keep is None:
      keep = self.draw_keep(tf.shape(x))
    elif keep.shape.is_fully_defined() and x.shape.is_fully_defined() and keep.shape != x.shape:
      raise ValueError("%s: a dropout mask of shape %s given for an input of shape %s"
                       % (self.path, keep.shape, x.shape))
    return tf.where(keep, x * (1.0 / (1.0 - self.rate)), tf.zeros_like(x))


def dense_layer(units, input_width, config, activation=None, name="dense"):
  """A built Keras Dense ([input_width] -> [units]; variables `kernel`, `bias`) with BERT's init."""
  layer = keras.layers.Dense(units, activation=activation, name=name,
                             kernel_initializer=create_initializer(config.initializer_range))
  layer.build((None, input_width))
  return layer


class BertEmbeddings(keras.layers.Layer):
  """Word + token type + position embeddings, then LayerNorm and dropout."""

  def __init__(self, config, name="embeddings", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    c = self.config
    init = create_initializer(c.initializer_range)
    self.word_embeddings = self.add_weight(
        name="word_embeddings", shape=(c.vocab_size, c.hidden_size), initializer=init)
    self.token_type_embeddings = self.add_weight(
        name="token_type_embeddings", shape=(c.type_vocab_size, c.hidden_size), initializer=init)
    self.position_embeddings = self.add_weight(
        name="position_embeddings", shape=(c.max_position_embeddings, c.hidden_size),
        initializer=init)
    self.layer_norm = LayerNorm(c.hidden_size)
    self.dropout = Dropout(c.hidden_dropout_prob)
    self.built = True

  def call(self, input_ids, token_type_ids, training=False):
    """input_ids, token_type_ids: int32 [B, S] -> [B, S, H]."""
    seq_length = tf.shape(input_ids)[1]
    # Word ids by gather, token types by one-hot matmul, as the original (on CPU/GPU) does. The
    # table's gradient is dense either way: the tied masked LM output layer adds a dense
    # gradient, and a dense term makes TensorFlow's aggregation sum the gather's rows into it
    # (so the original's TPU one-hot lookups train the same as its gathers).
    output = tf.gather(self.word_embeddings, input_ids)
    one_hot_types = tf.one_hot(token_type_ids, depth=self.config.type_vocab_size,
                               dtype=self.token_type_embeddings.dtype)
    output += tf.einsum("bst,th->bsh", one_hot_types, self.token_type_embeddings)
    output += self.position_embeddings[tf.newaxis, :seq_length, :]
    return self.dropout(self.layer_norm(output), training=training)


class SelfAttention(keras.layers.Layer):
  """Multi-head scaled dot-product self-attention: `query`, `key`, `value` projections."""

  def __init__(self, config, name="self", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.num_heads = config.num_attention_heads
    self.head_size = config.hidden_size // config.num_attention_heads
    self.build(None)

  def build(self, input_shape):
    h = self.config.hidden_size
    self.query = dense_layer(h, h, self.config, name="query")
    self.key = dense_layer(h, h, self.config, name="key")
    self.value = dense_layer(h, h, self.config, name="value")
    self.dropout = Dropout(self.config.attention_probs_dropout_prob)
    self.built = True

  def _split_heads(self, x, batch, seq):
    # [B, S, H] -> [B, N, S, D]
    return tf.transpose(tf.reshape(x, [batch, seq, self.num_heads, self.head_size]),
                        [0, 2, 1, 3])

  def call(self, x, attention_adder, training=False, queries=None):
    """x: [B, S, H]; attention_adder: [B, 1, 1, S] (0 or -10000) -> context [B, Q, H].

    Keys and values come from x; queries from `queries` [B, Q, H] when given (rows of x whose
    outputs are wanted), else from x (Q = S).
    """
    batch, seq = tf.shape(x)[0], tf.shape(x)[1]
    if queries is None:
      queries = x
    num_queries = tf.shape(queries)[1]
    q = self._split_heads(self.query(queries), batch, num_queries)
    k = self._split_heads(self.key(x), batch, seq)
    v = self._split_heads(self.value(x), batch, seq)
    scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(float(self.head_size)))
    # Softmax in float32 (a no-op in float32 runs; under mixed precision it keeps the -10000
    # adder and the normalisation exact enough).
    probs = tf.nn.softmax(tf.cast(scores, tf.float32) + tf.cast(attention_adder, tf.float32))
    probs = tf.cast(probs, v.dtype)  # [B, N, Q, S]
    context = tf.matmul(self.dropout(probs, training=training), v)  # [B, N, Q, D]
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]),
                      [batch, num_queries, self.num_heads * self.head_size])


class DenseResidualNorm(keras.layers.Layer):
  """`dense` projection, dropout, residual add, `LayerNorm` (the original's "output" blocks)."""

  def __init__(self, config, input_width, name="output", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.input_width = input_width
    self.build(None)

  def build(self, input_shape):
    self.dense = dense_layer(self.config.hidden_size, self.input_width, self.config)
    self.dropout = Dropout(self.config.hidden_dropout_prob)
    self.layer_norm = LayerNorm(self.config.hidden_size)
    self.built = True

  def call(self, x, residual, training=False):
    """x: [B, S, input_width], residual: [B, S, H] -> [B, S, H]."""
    return self.layer_norm(self.dropout(self.dense(x), training=training) + residual)


class Attention(keras.layers.Layer):
  """`self` attention followed by its `output` projection + residual + LayerNorm."""

  def __init__(self, config, name="attention", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    self.self_attention = SelfAttention(self.config)
    self.output_block = DenseResidualNorm(self.config, self.config.hidden_size)
    self.built = True

  def call(self, x, attention_adder, training=False, queries=None):
    """x: [B, S, H] -> [B, S, H], or [B, Q, H] at the rows `queries` [B, Q, H] of x."""
    context = self.self_attention(x, attention_adder, training=training, queries=queries)
    return self.output_block(context, x if queries is None else queries, training=training)


class Intermediate(keras.layers.Layer):
  """The feed-forward expansion: `dense` to intermediate_size with the hidden activation."""

  def __init__(self, config, name="intermediate", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    self.dense = dense_layer(self.config.intermediate_size, self.config.hidden_size, self.config,
                        activation=get_activation(self.config.hidden_act))
    self.built = True

  def call(self, x):
    return self.dense(x)


class TransformerLayer(keras.layers.Layer):
  """One post-LayerNorm transformer layer: attention block, then feed-forward block."""

  def __init__(self, config, name, **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    self.attention = Attention(self.config)
    self.intermediate = Intermediate(self.config)
    self.output_block = DenseResidualNorm(self.config, self.config.intermediate_size)
    self.built = True

  def call(self, x, attention_adder, training=False, queries=None):
    """x: [B, S, H] -> [B, S, H], or [B, Q, H] at the rows `queries` [B, Q, H] of x."""
    attention_output = self.attention(x, attention_adder, training=training, queries=queries)
    return self.output_block(self.intermediate(attention_output), attention_output,
                             training=training)


class Encoder(keras.layers.Layer):
  """The stack of `layer_<i>` transformer layers."""

  def __init__(self, config, name="encoder", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    self.layers = [TransformerLayer(self.config, name="layer_%d" % i)
                   for i in range(self.config.num_hidden_layers)]
    self.built = True

  def call(self, x, attention_adder, training=False, output_positions=None):
    """Returns the output of every layer, [L] x [B, S, H]; with `output_positions` int [B, K],
    the last layer is computed at those positions only and its output is [B, K, H]."""
    outputs = []
    for i, layer in enumerate(self.layers):
      queries = None
      if output_positions is not None and i == len(self.layers) - 1:
        queries = tf.gather(x, output_positions, batch_dims=1)  # [B, K, H]
      x = layer(x, attention_adder, training=training, queries=queries)
      outputs.append(x)
    return outputs


class Pooler(keras.layers.Layer):
  """tanh `dense` on the first ([CLS]) token."""

  def __init__(self, config, name="pooler", **kwargs):
    super().__init__(name=name, **kwargs)
    self.config = config
    self.build(None)

  def build(self, input_shape):
    self.dense = dense_layer(self.config.hidden_size, self.config.hidden_size, self.config,
                        activation=tf.tanh)
    self.built = True

  def call(self, sequence_output):
    """[B, S, H] -> [B, H]."""
    return self.dense(sequence_output[:, 0, :])


class BertModel(keras.Model):
  """The original's BertModel: embeddings, encoder, pooler, all under `bert/`."""

  def __init__(self, config, name="bert", **kwargs):
    super().__init__(name=name, **kwargs)
    if not isinstance(config, BertConfig):
      raise TypeError("config must be a BertConfig, got %r" % type(config))
    self.config = config
    self.build(None)

  def build(self, input_shape):
    # Sublayers are made inside build, which Keras runs in this layer's name scope ("bert/").
    self.embeddings = BertEmbeddings(self.config)
    self.encoder = Encoder(self.config)
    self.pooler = Pooler(self.config)
    self.built = True

  @property
  def embedding_table(self):
    """The word embedding table [vocab_size, H] (the masked LM head's output weights)."""
    return self.embeddings.word_embeddings

  def dropout_layers(self):
    """Every Dropout of the model, in the order the forward pass runs them (a training step
    sets their seed generators' state from the global step)."""
    layers = [self.embeddings.dropout]
    for layer in self.encoder.layers:
      layers += [layer.attention.self_attention.dropout, layer.attention.output_block.dropout,
                 layer.output_block.dropout]
    return layers

  def dropout_shapes(self, batch_size, seq_length, num_output_positions=None):
    """The input shape of each of dropout_layers() in a training pass over [B, S] inputs (with
    output_positions [B, K]: the last layer runs at K + 1 rows, [CLS] and those)."""
    c = self.config
    b, s, h, n = batch_size, seq_length, c.hidden_size, c.num_attention_heads
    shapes = [[b, s, h]]
    for i in range(c.num_hidden_layers):
      rows = s
      if num_output_positions is not None and i == c.num_hidden_layers - 1:
        rows = num_output_positions + 1
      shapes += [[b, n, rows, s], [b, rows, h], [b, rows, h]]
    return shapes

  def draw_dropout_masks(self, batch_size, seq_length, num_output_positions=None):
    """The keep mask of each of dropout_layers() (None where its rate is 0) for the next
    training pass, drawn now as the pass would draw them (see dropout_shapes).

    A step compiled with XLA takes them as inputs (dropout_masks_given): on CPU, TensorFlow's
    Philox kernel draws them faster than XLA's code for the same draw (benchmarks/README.md),
    and they are then the masks the step draws without XLA.
    """
    return [layer.draw_keep(shape) if layer.rate else None
            for layer, shape in zip(self.dropout_layers(),
                                    self.dropout_shapes(batch_size, seq_length,
                                                        num_output_positions))]

  @contextlib.contextmanager
  def dropout_masks_given(self, masks):
    """Within: each of dropout_layers() applies its mask from `masks` (draw_dropout_masks)
    instead of drawing one. `masks` None: they draw their own, as always."""
    layers = self.dropout_layers() if masks is not None else []
    for layer, keep in zip(layers, masks or []):
      layer.given_keep = keep
    try:
      yield
    finally:
      for layer in layers:
        layer.given_keep = None

  def call(self, input_ids, input_mask=None, token_type_ids=None, training=False,
           output_positions=None):
    """input_ids, input_mask, token_type_ids: int [B, S] (mask 1 = real token).

    Returns a dict: sequence_output [B, S, H], pooled_output [B, H], embedding_output [B, S, H],
    all_encoder_layers [L] x [B, S, H].

    output_positions: optional int [B, K]. The last layer's output at a position depends on the
    layer below at every position (its keys and values) but on its own query row only, so when
    only some positions are read (pretraining reads the masked ones and [CLS]) the last layer
    runs at those rows alone: sequence_output (and the last of all_encoder_layers) is then
    [B, K, H], the rows at output_positions, with the values the full computation gives them.
    """
    input_ids = tf.cast(input_ids, tf.int32)
    if input_mask is None:
      input_mask = tf.ones_like(input_ids)
    if token_type_ids is None:
      token_type_ids = tf.zeros_like(input_ids)
    token_type_ids = tf.cast(token_type_ids, tf.int32)
    embedding_output = self.embeddings(input_ids, token_type_ids, training=training)
    dtype = embedding_output.dtype
    # [B, 1, 1, S]: 0 for tokens to attend to, -10000 for padding.
    attention_adder = (1.0 - tf.cast(input_mask, dtype))[:, tf.newaxis, tf.newaxis, :] * _MASK_ADDER
    if output_positions is not None:
      # Row 0 ([CLS]) first, for the pooler.
      output_positions = tf.cast(output_positions, tf.int32)
      output_positions = tf.concat([tf.zeros_like(output_positions[:, :1]), output_positions], 1)
    all_layers = self.encoder(embedding_output, attention_adder, training=training,
                              output_positions=output_positions)
    pooled_output = self.pooler(all_layers[-1])
    if output_positions is not None:
      all_layers[-1] = all_layers[-1][:, 1:, :]
    return {
        "sequence_output": all_layers[-1],
        "pooled_output": pooled_output,
        "embedding_output": embedding_output,
        "all_encoder_layers": all_layers,
    }
