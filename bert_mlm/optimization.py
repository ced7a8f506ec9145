"""The original's optimizer: AdamWeightDecayOptimizer, linear warmup + linear decay, clipping.

One training step, as the original's `create_optimizer` builds it:
  grads = tf.clip_by_global_norm(grads, 1.0)    # here clip_scale(grads, CLIP_NORM), applied in
                                                # the update
  lr = learning_rate(step)                      # step i (0-based) uses lr(i)
  m = 0.9 m + 0.1 g;  v = 0.999 v + 0.001 g^2   # no bias correction
  update = m / (sqrt(v) + 1e-6) + 0.01 * param  # decay skipped for LayerNorm / layer_norm / bias
  param -= lr * update
  step += 1

The original increments `global_step` in the same graph step that reads it for the learning rate,
so which value it reads is a race (google-research/bert issue #1050); here step i always uses
lr(i), the schedule its code and comments describe.

Slots are named `<variable name>/adam_m` and `<variable name>/adam_v`, as in the original's
checkpoints.
"""

import re

import tensorflow as tf

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")
# The global norm the original clips gradients to.
CLIP_NORM = 1.0


def learning_rate(step, init_lr, num_train_steps, num_warmup_steps):
  """lr(step): linear warmup from 0 over `num_warmup_steps`, then linear decay to 0.

  Computed with the same float32 operations as the original (polynomial_decay with power 1, then
  the warmup blend), so the values agree bit for bit.
  """
  step_float = tf.cast(step, tf.float32)
  decay_steps = tf.cast(num_train_steps, tf.float32)
  progress = tf.minimum(step_float, decay_steps) / decay_steps
  lr = tf.constant(init_lr, tf.float32) * tf.pow(1.0 - progress, 1.0)
  if num_warmup_steps:
    warmup_lr = init_lr * (tf.cast(tf.cast(step, tf.int32), tf.float32) /
                           tf.cast(num_warmup_steps, tf.float32))
    is_warmup = tf.cast(tf.cast(step, tf.int32) < num_warmup_steps, tf.float32)
    lr = (1.0 - is_warmup) * lr + is_warmup * warmup_lr
  return lr


def clip_scale(grads, clip_norm):
  """The factor tf.clip_by_global_norm multiplies every gradient by: clip_norm / global norm when
  the norm exceeds clip_norm, else 1 (NaN when the norm is not finite, as there). The update
  applies it while it reads the gradient anyway, saving a pass over every gradient."""
  norm = tf.linalg.global_norm(grads)
  return clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm) + (norm - norm)


@tf.function(jit_compile=True, reduce_retracing=True)
def _adam_weight_decay_update(param, m, v, grad, grad_scale, learning_rate_value,
                              weight_decay_rate, beta_1, beta_2, epsilon):
  """The original's update arithmetic for the clipped gradient grad * grad_scale, compiled into
  one pass over param, m, v and grad (as a dozen separate kernels it reads and writes each
  tensor many times). Returns the new (param, m, v). weight_decay_rate None: no decay term."""
  grad = grad * grad_scale
  next_m = beta_1 * m + (1.0 - beta_1) * grad
  next_v = beta_2 * v + (1.0 - beta_2) * tf.square(grad)
  update = next_m / (tf.sqrt(next_v) + epsilon)
  if weight_decay_rate is not None:
    update += weight_decay_rate * param
  return param - learning_rate_value * update, next_m, next_v


class AdamWeightDecayOptimizer(object):
  """The original's AdamWeightDecayOptimizer: Adam with decoupled L2 weight decay and no bias
  correction, over named variables. (Its update rule and slot names; the learning rate is an
  argument of each update, not of the constructor.)

  Attributes:
    slots: {variable name: (adam_m, adam_v)} float32 variables, zeros at creation.
  """

  def __init__(self, variables, weight_decay_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
               exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY):
    """variables: {TF1 name: trainable variable}, the order gradients will come in."""
    self.variables = dict(variables)
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
    self.slots = {
        name: (tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False, name=name + "/adam_m"),
               tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False, name=name + "/adam_v"))
        for name, v in self.variables.items()}

  def uses_weight_decay(self, name):
    if not self.weight_decay_rate:
      return False
    return not any(re.search(pattern, name) for pattern in self.exclude_from_weight_decay)

  def apply_gradients(self, grads, learning_rate_value, grad_scale=1.0):
    """grads: {name: gradient or None}, each applied as grad * grad_scale (see clip_scale);
    updates variables and slots in place."""
    for name, grad in grads.items():
      if grad is not None:
        self.apply_one(name, self.variables[name], grad, learning_rate_value, grad_scale)

  def apply_one(self, name, param, grad, learning_rate_value, grad_scale=1.0):
    """The update of one variable by grad * grad_scale. Under tf.distribute it runs inside
    `extended.update`, where `param` is this device's copy and the slots resolve to this
    device's copies too."""
    grad = tf.convert_to_tensor(grad)  # dense also if a caller passes IndexedSlices
    m, v = self.slots[name]
    next_param, next_m, next_v = _adam_weight_decay_update(
        tf.convert_to_tensor(param), tf.convert_to_tensor(m), tf.convert_to_tensor(v), grad,
        tf.convert_to_tensor(grad_scale, tf.float32), learning_rate_value,
        self.weight_decay_rate if self.uses_weight_decay(name) else None, self.beta_1,
        self.beta_2, self.epsilon)
    m.assign(next_m)
    v.assign(next_v)
    return param.assign(next_param)


class Lamb(AdamWeightDecayOptimizer):
  """LAMB (You et al., 2019), the large-batch optimizer: Adam moments with bias correction, then
  each variable's step scaled by the trust ratio ||param|| / ||update||.

  Weight decay and the trust ratio both skip LayerNorm / layer_norm / bias variables (the
  exclusions of the original's AdamWeightDecayOptimizer). Slots keep the `adam_m` / `adam_v` names, so
  checkpoint tools treat them alike.
  """

  def __init__(self, variables, step, **kwargs):
    """step: the global step variable; update t = step + 1 uses bias correction 1 - beta^t."""
    super().__init__(variables, **kwargs)
    self.step = step

  def uses_layer_adaptation(self, name):
    return not any(re.search(pattern, name) for pattern in self.exclude_from_weight_decay)

  def apply_one(self, name, param, grad, learning_rate_value, grad_scale=1.0):
    grad = tf.convert_to_tensor(grad) * grad_scale
    m, v = self.slots[name]
    next_m = self.beta_1 * m + (1.0 - self.beta_1) * grad
    next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad)
    t = tf.cast(self.step + 1, tf.float32)
    m_hat = next_m / (1.0 - tf.pow(self.beta_1, t))
    v_hat = next_v / (1.0 - tf.pow(self.beta_2, t))
    update = m_hat / (tf.sqrt(v_hat) + self.epsilon)
    if self.uses_weight_decay(name):
      update += self.weight_decay_rate * param
    ratio = 1.0
    if self.uses_layer_adaptation(name):
      param_norm = tf.norm(param)
      update_norm = tf.norm(update)
      ratio = tf.where(param_norm > 0.0,
                       tf.where(update_norm > 0.0, param_norm / update_norm, 1.0), 1.0)
    m.assign(next_m)
    v.assign(next_v)
    return param.assign(param - ratio * learning_rate_value * update)


# --optimizer's values.
OPTIMIZERS = {
    "adamw": lambda variables, step: AdamWeightDecayOptimizer(variables),
    "lamb": Lamb,
}


def make_optimizer(name, variables, step):
  """The optimizer `name` (a key of OPTIMIZERS, checked with the options) over {TF1 name:
  variable}; `step` is the global step variable (LAMB's bias correction reads it).

  Not the original's `create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps,
  use_tpu)`, which built the whole update as one graph op. Here its parts have their own places:
    loss              the training step differentiates it (`train_step.TrainStep`), then clips
                      with `clip_scale(grads, CLIP_NORM)` and calls this optimizer's `apply_one`
                      per variable;
    init_lr, num_train_steps, num_warmup_steps
                      `learning_rate(step, init_lr, num_train_steps, num_warmup_steps)`, which
                      the step reads each iteration;
    use_tpu           the tf.distribute strategy (`distribute.get_strategy`): no
                      CrossShardOptimizer, gradients are all-reduced by the strategy;
    global_step       `step` here, incremented by the training step after the update.
  """
  return OPTIMIZERS[name](variables, step)
