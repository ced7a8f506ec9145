"""The original's run_pretraining (train, then evaluate) as a custom loop on tf.distribute.

One training step, on every replica of the strategy, for a global batch split across replicas:
  forward pass (dropout on) -> loss of the *global* batch: the masked LM numerator of this
    replica's share over the global weight sum (+ 1e-5), plus its next sentence losses over the
    global batch size, so the summed gradients equal one device's on the whole batch;
  gradients summed across replicas -> clipped by global norm 1.0 -> AdamWeightDecay at lr(step)
    -> global_step += 1.
Options beyond the original: gradient accumulation (micro-batches normalised by the denominators
of all of them, gradients summed), bf16/fp16 mixed precision (float32 variables; fp16 with
dynamic loss scaling that skips overflowing steps), XLA for each replica's forward and backward
pass, and LAMB instead of AdamWeightDecay.
`iterations_per_loop` steps run inside one tf.function call (one device round trip), stopping at
checkpoint boundaries. Checkpoints are `output_dir/model.ckpt-<step>` in the original's TF1
format with a `checkpoint` state file; a run on an `output_dir` that holds one resumes from it
(weights, slots, step) and ignores `init_checkpoint`, as the Estimator did.
"""

import dataclasses
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from tensorflow.core.framework import summary_pb2

from bert_mlm import checkpoints
from bert_mlm import distribute
from bert_mlm import input_pipeline
from bert_mlm import optimization
from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError
from bert_mlm.heads import BertPretrainingModel

_KEEP_CHECKPOINT_MAX = 5  # the Estimator's default
_POLICIES = {"": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
_LOSS_SCALE_GROWTH_STEPS = 2000
# TensorBoard's scalar plugin metadata, so summaries show without the tensorboard package.
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR).SerializeToString()
_STEP_FIELDS = ("total_loss", "masked_lm_loss", "next_sentence_loss", "learning_rate")


@dataclasses.dataclass
class PretrainingOptions:
  """run_pretraining's flags (same names and defaults), plus `seed` and `train_shuffle`."""
  bert_config: BertConfig
  input_files: list
  output_dir: str
  init_checkpoint: str = None
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  do_train: bool = False
  do_eval: bool = False
  train_batch_size: int = 32
  eval_batch_size: int = 8
  learning_rate: float = 5e-5
  num_train_steps: int = 100000
  num_warmup_steps: int = 10000
  save_checkpoints_steps: int = 1000
  iterations_per_loop: int = 1000
  max_eval_steps: int = 100
  seed: int = None
  train_shuffle: bool = True
  optimizer: str = "adamw"
  use_xla: bool = False
  gradient_accumulation_steps: int = 1
  mixed_precision: str = ""
  # A dynamic_masking.DynamicMasking: the records are unmasked and each batch is masked in the
  # input pipeline (--dynamic_masking). None: the records' own masks.
  dynamic_masking: object = None

  def validate(self, num_replicas):
    """Raises ValueError naming the flag whose value can't work."""
    if not (self.do_train or self.do_eval):
      raise UsageError("At least one of --do_train or --do_eval must be True.")
    positive = ["max_seq_length", "max_predictions_per_seq", "iterations_per_loop",
                "gradient_accumulation_steps"]
    if self.do_train:
      positive += ["train_batch_size", "num_train_steps", "save_checkpoints_steps"]
    if self.do_eval:
      positive += ["eval_batch_size", "max_eval_steps"]
    for name in positive:
      value = getattr(self, name)
      if value <= 0:
        raise UsageError("--%s=%d must be positive." % (name, value))
    if self.optimizer not in optimization.OPTIMIZERS:
      raise UsageError("--optimizer=%s is not one of %s." % (self.optimizer,
                                                             ", ".join(optimization.OPTIMIZERS)))
    if self.mixed_precision not in _POLICIES:
      raise UsageError("--mixed_precision=%s is not one of bf16, fp16 (or empty for float32)."
                       % self.mixed_precision)
    if self.num_warmup_steps < 0:
      raise UsageError("--num_warmup_steps=%d must be >= 0." % self.num_warmup_steps)
    for name in (["train_batch_size"] if self.do_train else []) + (
        ["eval_batch_size"] if self.do_eval else []):
      if getattr(self, name) % num_replicas:
        raise UsageError("--%s=%d is not divisible by the %d replicas."
                         % (name, getattr(self, name), num_replicas))
    if self.max_seq_length > self.bert_config.max_position_embeddings:
      raise UsageError("--max_seq_length=%d exceeds the config's max_position_embeddings=%d."
                       % (self.max_seq_length, self.bert_config.max_position_embeddings))


class Pretrainer(object):
  """The model, optimizer and global step under a strategy, with train and eval loops."""

  def __init__(self, bert_config, strategy, learning_rate=5e-5, num_train_steps=100000,
               num_warmup_steps=10000, optimizer="adamw", use_xla=False,
               gradient_accumulation_steps=1, mixed_precision=""):
    self.strategy = strategy
    self.gradient_accumulation_steps = gradient_accumulation_steps
    self.mixed_precision = mixed_precision
    self.init_lr = learning_rate
    self.num_train_steps = num_train_steps
    self.num_warmup_steps = num_warmup_steps
    with strategy.scope():
      # Layers take the dtype policy in force when they are made: float32 variables (and so
      # checkpoints) always; bf16/fp16 computation under a mixed policy.
      previous_policy = keras.config.dtype_policy()
      keras.config.set_dtype_policy(_POLICIES[mixed_precision])
      try:
        self.model = BertPretrainingModel(bert_config)
      finally:
        keras.config.set_dtype_policy(previous_policy)
      self.variables = self.model.variables_by_name()
      # Dynamic loss scaling for fp16 (as Keras' LossScaleOptimizer): start at 2^15, halve and
      # skip the step on non-finite gradients, double after 2000 good steps.
      self.loss_scale = tf.Variable(2.0 ** 15 if mixed_precision == "fp16" else 1.0,
                                    trainable=False, name="loss_scale")
      self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")
      self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
      self.optimizer = optimization.create_optimizer(optimizer, self.variables, self.global_step)
    self._names = list(self.variables)
    self._compiled_forward_backward = (
        tf.function(self._forward_backward, jit_compile=True) if use_xla
        else self._forward_backward)
    self._train_loop = tf.function(self._train_loop_fn)
    self._eval_step = tf.function(self._eval_step_fn)

  # --- checkpoints ---------------------------------------------------------------------------

  def checkpoint_tensors(self):
    return checkpoints.model_tensors(self.variables, int(self.global_step.numpy()),
                                     self.optimizer.slot_tensors())

  def restore_training_state(self, path):
    """Loads weights, adam slots and global_step of a training checkpoint (all required)."""
    targets = dict(self.variables)
    for name, (m, v) in self.optimizer.slots.items():
      targets[name + "/adam_m"], targets[name + "/adam_v"] = m, v
    targets[checkpoints.GLOBAL_STEP] = self.global_step
    loaded = checkpoints.load_checkpoint(targets, path)
    missing = sorted(set(targets) - set(loaded))
    if missing:
      raise UsageError("Checkpoint %s is not a training checkpoint of this model: it lacks %s%s."
                       % (path, ", ".join(missing[:3]), " and %d more" % (len(missing) - 3)
                          if len(missing) > 3 else ""))

  # --- training ------------------------------------------------------------------------------

  def _global_denominators(self, *batches):
    """The masked LM weight sum and the example count of `batches` on all replicas together."""
    ctx = tf.distribute.get_replica_context()
    weight_sum = ctx.all_reduce("sum", tf.add_n(
        [tf.reduce_sum(b["masked_lm_weights"]) for b in batches]))
    batch_size = ctx.all_reduce("sum", tf.add_n(
        [tf.cast(tf.shape(b["next_sentence_labels"])[0], tf.float32) for b in batches]))
    return weight_sum, batch_size

  @staticmethod
  def _loss_terms(outputs, features, weight_sum, batch_size):
    """This replica's share of the global batch's losses (the shares sum to one device's)."""
    weights = tf.reshape(features["masked_lm_weights"], [-1])
    masked_lm_loss = tf.reduce_sum(weights * outputs["masked_lm_example_loss"]) / (
        weight_sum + 1e-5)
    next_sentence_loss = tf.reduce_sum(outputs["next_sentence_example_loss"]) / batch_size
    return masked_lm_loss + next_sentence_loss, masked_lm_loss, next_sentence_loss

  def _forward_backward(self, features, weight_sum, batch_size):
    """Losses [3] and gradients of this replica's share (XLA-compiled with --use_xla)."""
    with tf.GradientTape() as tape:
      outputs = self.model(features, training=True, masked_positions_only=True)
      losses = self._loss_terms(outputs, features, weight_sum, batch_size)
      scaled_loss = losses[0] * self.loss_scale if self.mixed_precision == "fp16" else losses[0]
    grads = tape.gradient(scaled_loss, [self.variables[n] for n in self._names])
    # All dense: the word-embedding table's gradient is the tied output layer's dense gradient
    # plus the lookup's rows, summed by TensorFlow's aggregation as in the original's graph.
    return tf.stack(losses), [tf.convert_to_tensor(g) for g in grads]

  def _train_step(self, micro_batches, lr):
    """One optimizer step over `micro_batches` (gradient accumulation when there are several).

    Every micro-batch's loss is normalised by the denominators of all of them, and the gradients
    are added up: the same step as one batch holding them all.
    """
    weight_sum, batch_size = self._global_denominators(*micro_batches)
    losses, grads = None, None
    for features in micro_batches:
      micro_losses, micro_grads = self._compiled_forward_backward(features, weight_sum,
                                                                  batch_size)
      if grads is None:
        losses, grads = micro_losses, micro_grads
      else:
        losses += micro_losses
        grads = [a + b for a, b in zip(grads, micro_grads)]
    ctx = tf.distribute.get_replica_context()
    if self.strategy.num_replicas_in_sync > 1:
      grads = ctx.all_reduce("sum", grads)
    finite = tf.constant(True)
    if self.mixed_precision == "fp16":
      grads = [g / self.loss_scale for g in grads]
      finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
    # Clipping to global norm 1.0: the factor is applied inside the optimizer's update.
    grad_scale = optimization.clip_scale(grads, clip_norm=1.0)
    ctx.merge_call(self._apply, args=(grads, lr, finite, grad_scale))
    return losses

  def _apply(self, strategy, grads, lr, finite, grad_scale):
    if self.mixed_precision == "fp16":
      finite = strategy.experimental_local_results(finite)[0]
      self._update_loss_scale(finite)
    for name, grad in zip(self._names, grads):
      variable = self.variables[name]
      strategy.extended.update(
          # The tf.Variable inside the Keras variable: under a strategy, a MirroredVariable.
          variable.value if isinstance(variable, keras.Variable) else variable,
          lambda param, g, scale, n=name: self._apply_one(n, param, g, lr, finite, scale),
          args=(grad, grad_scale), group=False)
    self.global_step.assign_add(tf.cast(finite, tf.int64) if self.mixed_precision == "fp16"
                                else 1)

  def _apply_one(self, name, param, grad, lr, finite, grad_scale):
    if self.mixed_precision != "fp16":
      return self.optimizer.apply_one(name, param, grad, lr, grad_scale)
    # A step with overflowing fp16 gradients is skipped: weights and slots keep their values.
    m, v = self.optimizer.slots[name]
    before = (tf.identity(param), tf.identity(m), tf.identity(v))
    self.optimizer.apply_one(name, param, tf.where(finite, grad, 0.0), lr,
                             tf.where(finite, grad_scale, 0.0))
    for variable, old in zip((param, m, v), before):
      variable.assign(tf.where(finite, variable, old))
    return param

  def _update_loss_scale(self, finite):
    grow = tf.logical_and(finite, self.good_steps + 1 >= _LOSS_SCALE_GROWTH_STEPS)
    self.loss_scale.assign(tf.where(
        finite, tf.where(grow, self.loss_scale * 2.0, self.loss_scale), self.loss_scale / 2.0))
    zero = tf.zeros([], tf.int64)
    self.good_steps.assign(tf.where(finite, tf.where(grow, zero, self.good_steps + 1), zero))

  def _train_loop_fn(self, iterator, num_steps):
    records = tf.TensorArray(tf.float32, size=num_steps)
    for i in tf.range(num_steps):
      lr = optimization.learning_rate(self.global_step, self.init_lr, self.num_train_steps,
                                      self.num_warmup_steps)
      micro_batches = tuple(next(iterator) for _ in range(self.gradient_accumulation_steps))
      losses = self.strategy.run(self._train_step, args=(micro_batches, lr))
      losses = self.strategy.reduce("sum", losses, axis=None)
      records = records.write(i, tf.concat([losses, [lr]], axis=0))
    return records.stack()

  def train_steps(self, iterator, num_steps):
    """Runs `num_steps` steps in one call; returns [num_steps, 4] (total, mlm, nsp, lr)."""
    return self._train_loop(iterator, tf.constant(num_steps, tf.int32)).numpy()

  # --- evaluation ----------------------------------------------------------------------------

  def _eval_replica(self, features):
    outputs = self.model(features, training=False, masked_positions_only=True)
    total_loss, _, _ = self._loss_terms(outputs, features, *self._global_denominators(features))
    weights = tf.reshape(features["masked_lm_weights"], [-1])
    labels = tf.reshape(features["masked_lm_ids"], [-1])
    predictions = tf.argmax(outputs["masked_lm_log_probs"], axis=-1, output_type=tf.int32)
    ns_labels = tf.reshape(features["next_sentence_labels"], [-1])
    ns_predictions = tf.argmax(outputs["next_sentence_log_probs"], axis=-1, output_type=tf.int32)
    return tf.stack([
        tf.reduce_sum(weights * tf.cast(tf.equal(predictions, labels), tf.float32)),
        tf.reduce_sum(weights * outputs["masked_lm_example_loss"]),
        tf.reduce_sum(weights),
        tf.reduce_sum(tf.cast(tf.equal(ns_predictions, ns_labels), tf.float32)),
        tf.reduce_sum(outputs["next_sentence_example_loss"]),
        tf.cast(tf.shape(ns_labels)[0], tf.float32),
        total_loss,
    ])

  def _eval_step_fn(self, iterator):
    return self.strategy.reduce("sum", self.strategy.run(self._eval_replica,
                                                         args=(next(iterator),)), axis=None)

  def evaluate(self, iterator, num_steps):
    """The original's metric_fn over `num_steps` batches, plus loss and global_step."""
    sums = np.zeros(7, np.float64)
    batch_losses = []
    for _ in range(num_steps):
      values = self._eval_step(iterator).numpy().astype(np.float64)
      sums += values
      batch_losses.append(values[6])
    correct, mlm_loss, weight, ns_correct, ns_loss, count, _ = sums
    return {
        "global_step": int(self.global_step.numpy()),
        "loss": float(np.float32(np.mean(batch_losses))),
        "masked_lm_accuracy": float(np.float32(correct / weight)) if weight else 0.0,
        "masked_lm_loss": float(np.float32(mlm_loss / weight)) if weight else 0.0,
        "next_sentence_accuracy": float(np.float32(ns_correct / count)),
        "next_sentence_loss": float(np.float32(ns_loss / count)),
    }


def _scalar(name, value, step):
  tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR_METADATA)


def _save(pretrainer, output_dir, kept):
  if not distribute.is_chief(pretrainer.strategy):
    return None  # one writer per cluster; the other workers resume from the chief's files
  step = int(pretrainer.global_step.numpy())
  prefix = os.path.join(output_dir, "model.ckpt-%d" % step)
  checkpoints.save_checkpoint(prefix, pretrainer.checkpoint_tensors())
  if prefix in kept:
    kept.remove(prefix)
  kept.append(prefix)
  while len(kept) > _KEEP_CHECKPOINT_MAX:
    checkpoints.delete_checkpoint(kept.pop(0))
  checkpoints.write_checkpoint_state(output_dir, kept)
  logging.info("Saved checkpoint %s", prefix)
  return prefix


def _kept_checkpoints(output_dir):
  state = tf.train.get_checkpoint_state(output_dir)
  if state is None:
    return []
  return [p if os.path.isabs(p) else os.path.join(output_dir, p)
          for p in state.all_model_checkpoint_paths]


def train(pretrainer, options):
  """The training part of run_pretraining; returns the per-step records of this run."""
  output_dir = options.output_dir
  latest = tf.train.latest_checkpoint(output_dir)
  if latest:
    logging.info("Resuming from %s (init_checkpoint is not used).", latest)
    pretrainer.restore_training_state(latest)
  elif options.init_checkpoint:
    checkpoints.load_checkpoint(pretrainer.variables, options.init_checkpoint)
  kept = _kept_checkpoints(output_dir)
  step = int(pretrainer.global_step.numpy())
  if step >= options.num_train_steps:
    logging.info("Already at step %d of %d; nothing to train.", step, options.num_train_steps)
    return np.zeros((0, len(_STEP_FIELDS)), np.float32)

  dataset = input_pipeline.make_dataset(
      options.input_files, options.max_seq_length, options.max_predictions_per_seq,
      options.train_batch_size, is_training=True, shuffle=options.train_shuffle, seed=options.seed,
      masking=options.dynamic_masking)
  if not options.train_shuffle and step:
    # Unshuffled, the resumed run continues where the records left off.
    dataset = dataset.skip(step * options.gradient_accumulation_steps)
  iterator = iter(pretrainer.strategy.experimental_distribute_dataset(dataset))
  writer = (tf.summary.create_file_writer(output_dir) if distribute.is_chief(pretrainer.strategy)
            else tf.summary.create_noop_writer())
  logging.info("***** Running training *****")
  logging.info("  Batch size = %d, steps %d -> %d", options.train_batch_size, step,
               options.num_train_steps)
  history = []
  examples_per_step = options.train_batch_size * options.gradient_accumulation_steps
  if step == 0 and not latest:
    _save(pretrainer, output_dir, kept)  # the Estimator writes model.ckpt-0 first too
  while step < options.num_train_steps:
    next_save = (step // options.save_checkpoints_steps + 1) * options.save_checkpoints_steps
    num_steps = min(options.iterations_per_loop, next_save - step, options.num_train_steps - step)
    start = time.time()
    records = pretrainer.train_steps(iterator, num_steps)
    seconds = time.time() - start
    if not np.all(np.isfinite(records)):
      bad = step + int(np.argmin(np.all(np.isfinite(records), axis=1)))
      raise UsageError(
          "The loss became %s at step %d; training stopped. The last good checkpoint is %s."
          % (records[bad - step][0], bad, kept[-1] if kept else "none"))
    history.append(records)
    with writer.as_default():
      for offset, row in enumerate(records):
        for name, value in zip(_STEP_FIELDS, row):
          _scalar(name, value, step + offset + 1)
      _scalar("examples_per_sec", num_steps * examples_per_step / seconds,
              step + num_steps)
    # Read back: under fp16 a step whose gradients overflowed is skipped and not counted.
    step = int(pretrainer.global_step.numpy())
    logging.info("step %d: loss %.4f (masked LM %.4f, next sentence %.4f), lr %.3g, "
                 "%.1f examples/s", step, records[-1][0], records[-1][1], records[-1][2],
                 records[-1][3], num_steps * examples_per_step / seconds)
    if step % options.save_checkpoints_steps == 0 or step == options.num_train_steps:
      _save(pretrainer, output_dir, kept)
  writer.close()
  logging.info("Training done at step %d.", step)
  return np.concatenate(history)


def evaluate(pretrainer, options):
  """The evaluation part: latest checkpoint in output_dir (else init_checkpoint); writes
  output_dir/eval_results.txt as the original does; returns the metrics."""
  latest = tf.train.latest_checkpoint(options.output_dir)
  if latest:
    checkpoints.load_checkpoint(pretrainer.variables, latest)
    step = tf.train.load_checkpoint(latest).get_tensor(checkpoints.GLOBAL_STEP)
    pretrainer.global_step.assign(int(step))
  elif options.init_checkpoint:
    checkpoints.load_checkpoint(pretrainer.variables, options.init_checkpoint)
  else:
    raise UsageError("--do_eval: no checkpoint in --output_dir=%s and no --init_checkpoint."
                     % options.output_dir)
  dataset = input_pipeline.make_dataset(
      options.input_files, options.max_seq_length, options.max_predictions_per_seq,
      options.eval_batch_size, is_training=False, masking=options.dynamic_masking)
  iterator = iter(pretrainer.strategy.experimental_distribute_dataset(dataset))
  logging.info("***** Running evaluation *****")
  logging.info("  Batch size = %d", options.eval_batch_size)
  result = pretrainer.evaluate(iterator, options.max_eval_steps)
  if not distribute.is_chief(pretrainer.strategy):
    return result
  path = os.path.join(options.output_dir, "eval_results.txt")
  temporary = path + ".tmp-%d" % os.getpid()
  with tf.io.gfile.GFile(temporary, "w") as writer:
    logging.info("***** Eval results *****")
    for key in sorted(result):
      logging.info("  %s = %s", key, str(result[key]))
      writer.write("%s = %s\n" % (key, str(result[key])))
  tf.io.gfile.rename(temporary, path, overwrite=True)
  return result


def run_pretraining(options, strategy):
  """The whole job: validate, then train and/or evaluate. Returns (train history, eval result)."""
  options.validate(strategy.num_replicas_in_sync)
  if options.mixed_precision == "fp16" and isinstance(strategy, tf.distribute.TPUStrategy):
    raise UsageError("--mixed_precision=fp16 is not supported on TPU; use bf16.")
  input_pipeline.check_records(options.input_files, options.max_seq_length,
                               options.max_predictions_per_seq, masking=options.dynamic_masking)
  tf.io.gfile.makedirs(options.output_dir)
  if options.seed is not None:
    keras.utils.set_random_seed(options.seed)
  pretrainer = Pretrainer(options.bert_config, strategy, options.learning_rate,
                          options.num_train_steps, options.num_warmup_steps, options.optimizer,
                          options.use_xla, options.gradient_accumulation_steps,
                          options.mixed_precision)
  if options.init_checkpoint:
    # Fail before any step on an init checkpoint of another shape (even when resuming).
    checkpoints.check_shapes(pretrainer.variables,
                             checkpoints.CheckpointReader(options.init_checkpoint))
  history = train(pretrainer, options) if options.do_train else None
  result = evaluate(pretrainer, options) if options.do_eval else None
  return history, result

