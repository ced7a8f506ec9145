"""One optimizer step of pretraining on every replica of a tf.distribute strategy.

For a global batch split across replicas, one step (`_replica_step`, top to bottom):
  forward pass (dropout on) -> each prediction's loss (the model);
  the loss optimized: this replica's share of the global batch's loss
    (`losses.pretraining_losses` with the global denominators), so that the shares' gradients
    add up to one device's on the whole batch;
  gradients summed across replicas -> the factor that clips them to global norm `clip_norm`
    (applied inside the update) -> AdamWeightDecay (or LAMB) at lr(step) -> global_step += 1.
With gradient accumulation, each micro-batch's loss is normalised by the denominators of all of
them and the gradients are added up: the same step as one batch holding them all. Under fp16 the
loss is scaled (`mixed_precision.DynamicLossScale`) and a step whose gradients overflow leaves
weights, slots and global_step as they were.

`run(iterator, num_steps)` runs `num_steps` steps in one tf.function call (one device round
trip, the original's iterations_per_loop), or fewer when a stop is requested (see preemption):
before each step every worker's request is combined, so all stop at the same step.

Dropout draws from each layer's seed generator, whose state is set before every step from the
global step: the masks of a step depend on the seed and the step alone, so a run resumed from a
checkpoint draws what the uninterrupted run drew. With use_xla they are drawn before the compiled
pass and given to it (BertModel.draw_dropout_masks): the masks of the step without XLA.
"""

from absl import logging
import keras
import tensorflow as tf

from bert_mlm import optimization
from bert_mlm.model import losses
from bert_mlm.training import distribute

# What each step reports, summed over replicas.
STEP_FIELDS = losses.LOSS_NAMES + ("learning_rate",)


class TrainStep(object):
  """The distributed training step over a model, its optimizer and the global step."""

  def __init__(self, strategy, model, optimizer, global_step, learning_rate, clip_norm,
               gradient_accumulation_steps=1, use_xla=False, loss_scale=None,
               stop_requested=None):
    """The step's parts and settings, named as the original's model_fn and flags name them.

    Args:
      strategy: the tf.distribute strategy whose scope holds the variables.
      model: a BertPretrainingModel; optimizer: its optimization.AdamWeightDecayOptimizer (or
        Lamb); global_step: the int64 step variable.
      learning_rate: lr(step), a function of the global step (optimization.learning_rate with
        the run's init_lr, num_train_steps, num_warmup_steps).
      clip_norm: the global norm gradients are clipped to (optimization.CLIP_NORM, the
        original's 1.0).
      gradient_accumulation_steps: micro-batches per step.
      use_xla: compile the forward and backward pass with XLA.
      loss_scale: a mixed_precision.DynamicLossScale for fp16, else None.
      stop_requested: a bool variable read before each step (preemption.PreemptionWatcher).
    """
    self.strategy = strategy
    self.model = model
    self.optimizer = optimizer
    self.global_step = global_step
    self.learning_rate = learning_rate
    self.clip_norm = clip_norm
    self.gradient_accumulation_steps = gradient_accumulation_steps
    self.loss_scale = loss_scale
    self.stop_requested = stop_requested
    self.variables = model.variables_by_name()
    self._names = list(self.variables)
    # (state variable, its first component) of every dropout layer's seed generator.
    self._dropout_seeds = [(layer.seed_generator.state, int(layer.seed_generator.state.numpy()[0]))
                           for layer in model.bert.dropout_layers()]
    # Several workers must take the same stop decision at the same step, or the collectives
    # would hang.
    self._combine_stop_requests = distribute.num_workers(strategy) > 1
    self.use_xla = use_xla
    self._forward_backward_fn = (tf.function(self._forward_backward, jit_compile=True)
                                 if use_xla else self._forward_backward)
    if use_xla:
      logging.info("XLA compiles the forward and backward pass; the dropout masks are drawn "
                   "before it by TensorFlow's Philox kernel (faster on CPU, and the masks of "
                   "the step without XLA)")
    self._loop = tf.function(self._loop_fn)

  def run(self, iterator, num_steps):
    """Runs `num_steps` steps, fewer if a stop was requested; returns {field: float32 array
    [steps run]} (see STEP_FIELDS)."""
    records = self._loop(iterator, tf.constant(num_steps, tf.int32))
    return {name: values.numpy() for name, values in records.items()}

  def _loop_fn(self, iterator, num_steps):
    records = {name: tf.TensorArray(tf.float32, size=0, dynamic_size=True)
               for name in STEP_FIELDS}
    for i in tf.range(num_steps):
      if self._any_worker_stopping():
        break
      self._seed_dropout()
      lr = self.learning_rate(self.global_step)
      micro_batches = tuple(next(iterator) for _ in range(self.gradient_accumulation_steps))
      step_losses = distribute.reduce_sum(self.strategy,
                               self.strategy.run(self._replica_step, args=(micro_batches, lr)))
      step_losses["learning_rate"] = lr
      records = {name: records[name].write(i, step_losses[name]) for name in STEP_FIELDS}
    return {name: array.stack() for name, array in records.items()}

  def _any_worker_stopping(self):
    if self.stop_requested is None:
      return tf.constant(False)
    stopping = tf.cast(self.stop_requested.read_value(), tf.int32)
    if self._combine_stop_requests:
      # tf.distribute reduces by sum or mean only: a sum above 0 means some worker stops.
      stopping = self.strategy.reduce(
          "sum", self.strategy.run(lambda: tf.identity(stopping)), axis=None)
    return stopping > 0

  def _seed_dropout(self):
    """Each dropout generator's state := (its seed, global_step * micro-batches per step)."""
    counter = self.global_step * self.gradient_accumulation_steps
    for state, seed in self._dropout_seeds:
      state.assign(tf.cast(tf.stack([tf.constant(seed, tf.int64), counter]), state.dtype))

  def _replica_step(self, micro_batches, lr):
    """One step on this replica: returns its share of the step's losses (see losses)."""
    denominators = losses.global_denominators(micro_batches)
    step_losses, grads = None, None
    for features in micro_batches:
      masks = self._draw_dropout_masks(features) if self.use_xla else None
      micro_losses, micro_grads = self._forward_backward_fn(features, denominators, masks)
      if grads is None:
        step_losses, grads = micro_losses, micro_grads
      else:
        step_losses = {k: step_losses[k] + micro_losses[k] for k in step_losses}
        grads = [a + b for a, b in zip(grads, micro_grads)]
    ctx = tf.distribute.get_replica_context()
    if self.strategy.num_replicas_in_sync > 1:
      grads = ctx.all_reduce("sum", grads)
    finite = tf.constant(True)
    if self.loss_scale is not None:
      grads = [g / self.loss_scale.scale for g in grads]
      finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
    grad_scale = optimization.clip_scale(grads, self.clip_norm)
    ctx.merge_call(self._apply, args=(grads, lr, finite, grad_scale))
    return step_losses

  def _draw_dropout_masks(self, features):
    """The masks the forward pass on `features` would draw (BertModel.draw_dropout_masks)."""
    batch_size, seq_length = tf.unstack(tf.shape(features["input_ids"]))
    return self.model.bert.draw_dropout_masks(
        batch_size, seq_length, num_output_positions=tf.shape(features["masked_lm_positions"])[1])

  def _forward_backward(self, features, denominators, dropout_masks=None):
    """This replica's share of the losses, and the gradients of the total (XLA-compiled with
    use_xla, then given the dropout masks, drawn outside)."""
    with tf.GradientTape() as tape, self.model.bert.dropout_masks_given(dropout_masks):
      outputs = self.model(features, training=True, masked_positions_only=True)
      step_losses = losses.pretraining_losses(outputs, features, denominators)
      loss = step_losses["total_loss"]  # the quantity optimized
      if self.loss_scale is not None:
        loss *= self.loss_scale.scale
    grads = tape.gradient(loss, [self.variables[n] for n in self._names])
    # All dense: the word-embedding table's gradient is the tied output layer's dense gradient
    # plus the lookup's rows, summed by TensorFlow's aggregation as in the original's graph.
    return step_losses, [tf.convert_to_tensor(g) for g in grads]

  def _apply(self, strategy, grads, lr, finite, grad_scale):
    if self.loss_scale is not None:
      finite = strategy.experimental_local_results(finite)[0]
      self.loss_scale.update(finite)
    for name, grad in zip(self._names, grads):
      variable = self.variables[name]
      strategy.extended.update(
          # The tf.Variable inside the Keras variable: under a strategy, a MirroredVariable.
          variable.value if isinstance(variable, keras.Variable) else variable,
          lambda param, g, scale, n=name: self._apply_one(n, param, g, lr, finite, scale),
          args=(grad, grad_scale), group=False)
    # After the step's batch arrived (grad_scale is computed from its gradients): the increment
    # alone does not depend on the data, so without this a step whose input failed (a corrupt
    # record) would still count, and a checkpoint then saved would be one step ahead of its
    # weights.
    with tf.control_dependencies(strategy.experimental_local_results(grad_scale)):
      self.global_step.assign_add(1 if self.loss_scale is None else tf.cast(finite, tf.int64))

  def _apply_one(self, name, param, grad, lr, finite, grad_scale):
    if self.loss_scale is None:
      return self.optimizer.apply_one(name, param, grad, lr, grad_scale)
    # A step with overflowing fp16 gradients is skipped: weights and slots keep their values.
    m, v = self.optimizer.slots[name]
    before = (tf.identity(param), tf.identity(m), tf.identity(v))
    self.optimizer.apply_one(name, param, tf.where(finite, grad, 0.0), lr,
                             tf.where(finite, grad_scale, 0.0))
    for variable, old in zip((param, m, v), before):
      variable.assign(tf.where(finite, variable, old))
    return param
