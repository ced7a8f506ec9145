"""bf16 / fp16 compute with float32 variables, and fp16's dynamic loss scaling.

Keras layers take the dtype policy in force when they are made: under `policy_scope("bf16")` the
model computes in bfloat16 while its variables (and so the optimizer slots and checkpoints) stay
float32. LayerNorm, softmax and the losses are float32 in any policy (see modeling and heads).
"""

import contextlib

import keras
import tensorflow as tf

POLICIES = {"": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


@contextlib.contextmanager
def policy_scope(mixed_precision):
  """Layers made inside compute in `mixed_precision` ("", "bf16" or "fp16")."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(POLICIES[mixed_precision])
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


class DynamicLossScale(object):
  """fp16's loss scale, as Keras' LossScaleOptimizer moves it: start at 2^15; on a step whose
  gradients overflow, halve it (the step is skipped by the caller); after `growth_steps` good
  steps in a row, double it.

  Make it under the strategy's scope: `scale` and `good_steps` are replicated variables.
  """

  def __init__(self, initial_scale=2.0 ** 15, growth_steps=2000):
    self.growth_steps = growth_steps
    self.scale = tf.Variable(initial_scale, trainable=False, name="loss_scale")
    self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")

  def update(self, finite):
    """After a step: `finite` is whether all its gradients were finite (a bool tensor)."""
    grow = tf.logical_and(finite, self.good_steps + 1 >= self.growth_steps)
    self.scale.assign(tf.where(finite, tf.where(grow, self.scale * 2.0, self.scale),
                               self.scale / 2.0))
    zero = tf.zeros([], tf.int64)
    self.good_steps.assign(tf.where(finite, tf.where(grow, zero, self.good_steps + 1), zero))
