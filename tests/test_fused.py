"""The fused kernels against the unfused TensorFlow ops they replace (forward and gradient)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm import kernels


def _unfused_gelu(x):
  return x * (0.5 * (1.0 + tf.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * tf.pow(x, 3)))))


def _unfused_layer_norm(x, gamma, beta, epsilon):
  mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
  return tf.nn.batch_normalization(x, mean, variance, offset=beta, scale=gamma,
                                   variance_epsilon=epsilon)


def _unfused_cross_entropy(logits, labels):
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  return -tf.reduce_sum(log_probs * tf.one_hot(labels, logits.shape[-1]), axis=-1)


def _value_and_grads(fn, inputs, seed=0):
  """fn(*inputs) and the gradients of sum(fn * random upstream gradient) to every input."""
  inputs = [tf.constant(x) for x in inputs]
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    y = fn(*inputs)
  upstream = tf.constant(np.random.RandomState(seed).randn(*y.shape).astype(np.float32))
  return [y.numpy()] + [g.numpy() for g in tape.gradient(y, inputs, output_gradients=upstream)]


def _assert_close(ours, expected, rtol):
  for a, b in zip(ours, expected):
    scale = np.max(np.abs(b))
    assert np.max(np.abs(a - b)) <= rtol * scale, (np.max(np.abs(a - b)), scale)


@pytest.mark.parametrize("shape", [(7,), (3, 5, 64), (2, 16, 128)])
def test_gelu_matches_the_unfused_formula(shape):
  x = (np.random.RandomState(1).randn(*shape) * 3).astype(np.float32)
  ours = _value_and_grads(kernels.gelu, [x])
  _assert_close(ours, _value_and_grads(_unfused_gelu, [x]), 1e-5)
  # And the exact derivative, in float64.
  x64 = x.astype(np.float64)
  c, a = math.sqrt(2.0 / math.pi), 0.044715
  t = np.tanh(c * (x64 + a * x64 ** 3))
  derivative = 0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * c * (1 + 3 * a * x64 ** 2)
  upstream = np.random.RandomState(0).randn(*shape)
  _assert_close([ours[1]], [derivative * upstream], 1e-5)


@pytest.mark.parametrize("shape", [(7,), (3, 5, 64)])
def test_gelu_exact_matches_the_erf_formula(shape):
  x = (np.random.RandomState(4).randn(*shape) * 3).astype(np.float32)
  ours = _value_and_grads(kernels.gelu_exact, [x])
  _assert_close(ours, _value_and_grads(lambda t: tf.nn.gelu(t, approximate=False), [x]), 1e-5)
  # And the exact derivative, Phi(x) + x phi(x), in float64.
  x64 = x.astype(np.float64)
  cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x64 / math.sqrt(2.0)))
  derivative = cdf + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi)
  upstream = np.random.RandomState(0).randn(*shape)
  _assert_close([ours[0], ours[1]], [x64 * cdf, derivative * upstream], 1e-5)
  # Not the original's tanh form: they differ by up to ~5e-4.
  assert 1e-4 < np.max(np.abs(ours[0] - kernels.gelu(tf.constant(x)).numpy())) < 6e-4


def test_gelu_keeps_a_bfloat16_input_in_bfloat16():
  x = tf.constant([-2.0, 0.5, 3.0], tf.bfloat16)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = kernels.gelu(x)
  assert y.dtype == tf.bfloat16 and tape.gradient(y, x).dtype == tf.bfloat16
  np.testing.assert_allclose(y.numpy().astype(np.float32),
                             _unfused_gelu(tf.cast(x, tf.float32)).numpy(), rtol=1e-2, atol=4e-3)


@pytest.mark.parametrize("shape", [(6, 32), (2, 9, 48)])
def test_layer_norm_matches_moments_and_batch_normalization(shape):
  rng = np.random.RandomState(2)
  x = (rng.randn(*shape) * 4 + 3).astype(np.float32)
  gamma = rng.randn(shape[-1]).astype(np.float32)
  beta = rng.randn(shape[-1]).astype(np.float32)
  ours = _value_and_grads(lambda *a: kernels.layer_norm(*a, 1e-12), [x, gamma, beta])
  expected = _value_and_grads(lambda *a: _unfused_layer_norm(*a, 1e-12), [x, gamma, beta])
  _assert_close(ours, expected, 2e-6)


def test_layer_norm_of_a_constant_row_stays_finite():
  # Zero variance: the 1e-12 epsilon alone keeps rsqrt finite, as in the original.
  x = np.full((2, 8), 5.0, np.float32)
  ours = _value_and_grads(lambda *a: kernels.layer_norm(*a, 1e-12),
                          [x, np.ones(8, np.float32), np.zeros(8, np.float32)])
  assert all(np.all(np.isfinite(v)) for v in ours)
  np.testing.assert_array_equal(ours[0], 0.0)


@pytest.mark.parametrize("num_classes", [2, 1000])
def test_softmax_cross_entropy_matches_log_softmax_and_one_hot(num_classes):
  rng = np.random.RandomState(3)
  logits = (rng.randn(12, num_classes) * 5).astype(np.float32)
  labels = rng.randint(0, num_classes, 12).astype(np.int32)
  ours = _value_and_grads(lambda l: kernels.softmax_cross_entropy(l, labels), [logits])
  expected = _value_and_grads(lambda l: _unfused_cross_entropy(l, labels), [logits])
  _assert_close(ours, expected, 2e-6)


def test_softmax_cross_entropy_of_extreme_logits():
  # A large spread: the max shift keeps exp finite; the loss is the gap to the label's logit.
  logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], np.float32)
  labels = np.array([2, 1], np.int32)
  loss, grad = _value_and_grads(lambda l: kernels.softmax_cross_entropy(l, labels), [logits])
  np.testing.assert_allclose(loss, [2000.0, math.log(3.0)], rtol=1e-6)
  assert np.all(np.isfinite(grad))
