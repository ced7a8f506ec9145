"""Test-only stand-ins for the two TF1 APIs the original BERT graph code needs on TF 2.21.

PyPI's `bert-tensorflow==1.0.4` builds its graph with `tensorflow.compat.v1`, but

  * `bert/modeling.py` imports `tensorflow.contrib.layers` (for `layer_norm`), and `tf.contrib`
    is gone from TF 2.x;
  * `bert/modeling.py` (pooler) and `bert/run_pretraining.py` (masked-LM transform) call
    `tf.compat.v1.layers.dense`, which is routed to Keras and raises under Keras 3.

`install()` provides graph-mode replacements that create the same variables (same names,
shapes and initial values) and compute the same functions, so that the original's code can be
imported and run unmodified. It must be called before `bert.modeling` is imported; it is
idempotent.
"""

import sys
import types

import tensorflow as tf
# Imported by its full name (not only reached as `tf.compat.v1`): the first import of the module
# `tensorflow.compat.v1` runs its `__init__`, which would reset an attribute patched before it.
import tensorflow.compat.v1 as tf1

_MARK = "_bert_mlm_tf1_shim"

# contrib's layer_norm used a fixed variance epsilon of 1e-12.
LAYER_NORM_EPSILON = 1e-12


def layer_norm(inputs, center=True, scale=True, activation_fn=None, reuse=None,
               variables_collections=None, outputs_collections=None, trainable=True,
               begin_norm_axis=1, begin_params_axis=-1, scope=None):
  """Graph-mode equivalent of the removed `tf.contrib.layers.layer_norm`.

  Creates `<scope>/beta` (zeros) and `<scope>/gamma` (ones) with the shape of the input's
  dimensions from `begin_params_axis` on, normalises over the dimensions from
  `begin_norm_axis` on with `tf.nn.moments` + `tf.nn.batch_normalization` and epsilon 1e-12.
  `variables_collections` and `outputs_collections` are accepted and ignored.
  """
  del variables_collections, outputs_collections
  with tf1.variable_scope(scope, default_name="LayerNorm", values=[inputs], reuse=reuse):
    inputs = tf.convert_to_tensor(inputs)
    inputs_shape = inputs.shape
    rank = inputs_shape.rank
    if rank is None:
      raise ValueError("layer_norm needs an input of known rank, got %s" % inputs.name)
    if begin_norm_axis < 0:
      begin_norm_axis += rank
    if begin_params_axis < 0:
      begin_params_axis += rank
    if begin_norm_axis >= rank or begin_params_axis >= rank:
      raise ValueError("begin_norm_axis (%d) and begin_params_axis (%d) must be < rank (%d)" %
                       (begin_norm_axis, begin_params_axis, rank))
    params_shape = inputs_shape[begin_params_axis:]
    if not params_shape.is_fully_defined():
      raise ValueError("layer_norm needs fully defined dimensions %s for its parameters" %
                       params_shape)
    dtype = inputs.dtype.base_dtype
    beta = gamma = None
    if center:
      beta = tf1.get_variable("beta", shape=params_shape, dtype=dtype,
                              initializer=tf1.zeros_initializer(), trainable=trainable)
    if scale:
      gamma = tf1.get_variable("gamma", shape=params_shape, dtype=dtype,
                               initializer=tf1.ones_initializer(), trainable=trainable)
    norm_axes = list(range(begin_norm_axis, rank))
    mean, variance = tf1.nn.moments(inputs, norm_axes, keep_dims=True)
    outputs = tf1.nn.batch_normalization(inputs, mean, variance, offset=beta, scale=gamma,
                                         variance_epsilon=LAYER_NORM_EPSILON)
    outputs.set_shape(inputs_shape)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return outputs


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=None, trainable=True, name=None, reuse=None, **unused_kwargs):
  """Graph-mode equivalent of `tf.compat.v1.layers.dense` (the subset the original uses).

  Creates `<name or 'dense'>/kernel` [in, units] and `<name>/bias` [units] (zeros unless
  `bias_initializer` is given) and returns `activation(inputs @ kernel + bias)` over the last
  axis. Inputs of rank > 2 are flattened to 2D for the matmul and reshaped back.
  """
  if unused_kwargs:
    raise TypeError("tf1_shim.dense does not support %s" % sorted(unused_kwargs))
  with tf1.variable_scope(name, default_name="dense", values=[inputs], reuse=reuse):
    inputs = tf.convert_to_tensor(inputs)
    in_dim = inputs.shape[-1]
    if in_dim is None:
      raise ValueError("dense needs a known last dimension, got %s" % inputs.shape)
    kernel = tf1.get_variable("kernel", shape=[in_dim, units], dtype=inputs.dtype,
                              initializer=kernel_initializer, trainable=trainable)
    bias = None
    if use_bias:
      bias = tf1.get_variable("bias", shape=[units], dtype=inputs.dtype,
                              initializer=bias_initializer or tf1.zeros_initializer(),
                              trainable=trainable)
    rank = inputs.shape.rank
    if rank == 2:
      outputs = tf.matmul(inputs, kernel)
    else:
      leading = tf.shape(inputs)[:-1]
      outputs = tf.matmul(tf.reshape(inputs, [-1, in_dim]), kernel)
      outputs = tf.reshape(outputs, tf.concat([leading, [units]], axis=0))
      outputs.set_shape(inputs.shape[:-1].concatenate([units]))
    if bias is not None:
      outputs = tf.nn.bias_add(outputs, bias)
    if activation is not None:
      outputs = activation(outputs)
    return outputs


def _make_layers_namespace(original):
  """A module with our `dense`; any other attribute is looked up on the original loader."""
  module = types.ModuleType("tensorflow.compat.v1.layers")
  module.dense = dense
  setattr(module, _MARK, True)

  def __getattr__(name):  # PEP 562 module-level fallback.
    if original is None:
      raise AttributeError(name)
    return getattr(original, name)

  module.__getattr__ = __getattr__
  return module


def _make_estimator_namespace():
  """The two names of `tf.estimator` that the original's `model_fn` touches (TF 2.16+ lacks it).

  `TPUEstimatorSpec` just returns its arguments, so a test can take the `eval_metrics` the
  original's model_fn builds (its own `metric_fn` and tensors) and run them in a session.
  """
  estimator = types.ModuleType("estimator")
  estimator.ModeKeys = types.SimpleNamespace(TRAIN="train", EVAL="eval", PREDICT="infer")
  estimator.tpu = types.SimpleNamespace(TPUEstimatorSpec=lambda **kwargs: kwargs)
  setattr(estimator, _MARK, True)
  return estimator


def install():
  """Installs the fake `tensorflow.contrib`, the `tf.compat.v1.layers.dense` replacement and a
  minimal `tf.compat.v1.estimator` (ModeKeys, TPUEstimatorSpec)."""
  contrib = sys.modules.get("tensorflow.contrib")
  if contrib is None or not getattr(contrib, _MARK, False):
    contrib = types.ModuleType("tensorflow.contrib")
    contrib_layers = types.ModuleType("tensorflow.contrib.layers")
    contrib_layers.layer_norm = layer_norm
    contrib.layers = contrib_layers
    setattr(contrib, _MARK, True)
    sys.modules["tensorflow.contrib"] = contrib
    sys.modules["tensorflow.contrib.layers"] = contrib_layers

  # `tf.compat.v1.layers` is a KerasLazyLoader whose attributes raise under Keras 3; replace the
  # attribute on `tf.compat.v1` (the module the original binds as `tf`) with our namespace.
  compat_v1 = sys.modules["tensorflow.compat.v1"]
  try:
    current = getattr(compat_v1, "layers")
  except AttributeError:
    current = None
  if not getattr(current, _MARK, False):
    compat_v1.layers = _make_layers_namespace(current)
  if not getattr(getattr(compat_v1, "estimator", None), _MARK, False):
    compat_v1.estimator = _make_estimator_namespace()
  return True
