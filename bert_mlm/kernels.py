"""The model's elementwise chains as single compiled kernels, with hand-written gradients.

Without XLA, TensorFlow runs the original's GELU (8 ops), LayerNorm (moments + batch_normalization)
and log-softmax cross entropy as one kernel per op, each a full pass over memory, and their
automatic gradients as twice as many. Here each forward and each backward is one small
`jit_compile` function, so it is one fused loop; matmuls stay outside on TensorFlow's (oneDNN /
cuBLAS) kernels. Inside a `--use_xla` step the functions are inlined into the whole-step
compilation. The arithmetic is the original's (the same formulas, float32 where it was float32);
results agree with the unfused ops to round-off, and the tests compare both with the original.
"""

import math

import tensorflow as tf

_GELU_SCALE = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
_INVERSE_SQRT_2 = 1.0 / math.sqrt(2.0)
_INVERSE_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@tf.function(jit_compile=True, reduce_retracing=True)
def _gelu_forward(x):
  return x * (0.5 * (1.0 + tf.tanh(_GELU_SCALE * (x + _GELU_CUBIC * x * x * x))))


@tf.function(jit_compile=True, reduce_retracing=True)
def _gelu_backward(x, dy):
  # d/dx [x * 0.5 * (1 + tanh(u))] with u = c (x + a x^3):
  #   0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) c (1 + 3 a x^2)
  x_squared = x * x
  t = tf.tanh(_GELU_SCALE * (x + _GELU_CUBIC * x_squared * x))
  return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) *
               (_GELU_SCALE * (1.0 + 3.0 * _GELU_CUBIC * x_squared)))


@tf.custom_gradient
def gelu(x):
  """The original's GELU, the tanh approximation:
  x * 0.5 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
  return _gelu_forward(x), lambda dy: _gelu_backward(x, dy)


@tf.function(jit_compile=True, reduce_retracing=True)
def _gelu_exact_forward(x):
  return x * (0.5 * (1.0 + tf.math.erf(x * _INVERSE_SQRT_2)))


@tf.function(jit_compile=True, reduce_retracing=True)
def _gelu_exact_backward(x, dy):
  # d/dx [x * Phi(x)] = Phi(x) + x * phi(x), Phi the normal CDF, phi its density.
  return dy * (0.5 * (1.0 + tf.math.erf(x * _INVERSE_SQRT_2)) +
               x * (_INVERSE_SQRT_2PI * tf.exp(-0.5 * x * x)))


@tf.custom_gradient
def gelu_exact(x):
  """GELU with the exact normal CDF: x * 0.5 * (1 + erf(x / sqrt(2))).

  Not in the original (its "gelu" is the tanh form above): it is Hugging Face transformers'
  "gelu", here so that models trained with it (converted by `interop.huggingface`) compute what they
  were trained to compute. The two differ by up to about 5e-4 per activation.
  """
  return _gelu_exact_forward(x), lambda dy: _gelu_exact_backward(x, dy)


@tf.function(jit_compile=True, reduce_retracing=True)
def _layer_norm_forward(x, gamma, beta, epsilon):
  mean = tf.reduce_mean(x, axis=-1, keepdims=True)
  variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=-1, keepdims=True)
  inverse = tf.math.rsqrt(variance + epsilon) * gamma
  return x * inverse + (beta - mean * inverse)


@tf.function(jit_compile=True, reduce_retracing=True)
def _layer_norm_backward(x, gamma, epsilon, dy):
  mean = tf.reduce_mean(x, axis=-1, keepdims=True)
  centered = x - mean
  rstd = tf.math.rsqrt(tf.reduce_mean(centered * centered, axis=-1, keepdims=True) + epsilon)
  normalized = centered * rstd
  dnormalized = dy * gamma
  dx = rstd * (dnormalized - tf.reduce_mean(dnormalized, axis=-1, keepdims=True) -
               normalized * tf.reduce_mean(dnormalized * normalized, axis=-1, keepdims=True))
  rows = tf.range(tf.rank(x) - 1)
  return dx, tf.reduce_sum(dy * normalized, axis=rows), tf.reduce_sum(dy, axis=rows)


def layer_norm(x, gamma, beta, epsilon):
  """Layer normalization over the last axis, the original's arithmetic (tf.nn.moments, then
  batch_normalization): x [..., H], gamma and beta [H] -> [..., H]."""
  gamma = tf.convert_to_tensor(gamma)
  beta = tf.convert_to_tensor(beta)
  epsilon = tf.constant(epsilon, x.dtype)

  @tf.custom_gradient
  def _layer_norm(x, gamma, beta):
    def grad(dy):
      return _layer_norm_backward(x, gamma, epsilon, dy)
    return _layer_norm_forward(x, gamma, beta, epsilon), grad

  return _layer_norm(x, gamma, beta)


@tf.function(jit_compile=True, reduce_retracing=True)
def _log_softmax_parts(logits):
  """log_softmax(logits) = (logits - peak) - log_sum: peak [N] and log_sum [N]."""
  peak = tf.reduce_max(logits, axis=-1)
  return peak, tf.math.log(tf.reduce_sum(tf.exp(logits - peak[:, tf.newaxis]), axis=-1))


@tf.function(jit_compile=True, reduce_retracing=True)
def _cross_entropy_backward(logits, labels, peak, log_sum, dloss):
  one_hot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=logits.dtype)
  softmax = tf.exp((logits - peak[:, tf.newaxis]) - log_sum[:, tf.newaxis])
  return (softmax - one_hot) * dloss[:, tf.newaxis]


def softmax_cross_entropy(logits, labels):
  """-log_softmax(logits)[i, labels[i]]: float32 [N, C], int32 [N] -> [N].

  log_softmax as tf.nn.log_softmax computes it ((logits - max) - log(sum(exp(logits - max)))),
  read at the label only; the gradient, softmax - one_hot(label), is one fused pass and the
  [N, C] log-probabilities are never materialised.
  """
  labels = tf.convert_to_tensor(labels)

  @tf.custom_gradient
  def _cross_entropy(logits):
    peak, log_sum = _log_softmax_parts(logits)
    label_logits = tf.gather(logits, labels[:, tf.newaxis], batch_dims=1)[:, 0]

    def grad(dloss):
      return _cross_entropy_backward(logits, labels, peak, log_sum, dloss)
    return log_sum - (label_logits - peak), grad

  return _cross_entropy(logits)
