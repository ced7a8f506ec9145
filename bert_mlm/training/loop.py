"""The original's run_pretraining (train, then evaluate) as a custom loop on tf.distribute.

The parts, one module each:
  pretraining_model   the model (BERT + heads) under a precision policy
  losses              the losses and metrics, shared by the heads, the step and evaluation
  train_step          one optimizer step on every replica, `iterations_per_loop` per call
  checkpoint_manager  model.ckpt-<step>, the `checkpoint` file, rotation, resume
  evaluation          the original's metric_fn and eval_results.txt
This module holds the options and the loop that joins them, as the original's model_fn and
Estimator do: restore, then step, log, checkpoint, until num_train_steps; then evaluate.

Options beyond the original: gradient accumulation, bf16/fp16 mixed precision, XLA, LAMB, a
seed, unshuffled records. Checkpoints are `output_dir/model.ckpt-<step>` in the original's TF1
format; a run on an `output_dir` that holds one resumes from it (weights, slots, step) and
ignores `init_checkpoint`, as the Estimator did.
"""

import dataclasses
import functools
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from tensorflow.core.framework import summary_pb2

from bert_mlm import optimization
from bert_mlm.config import BertConfig
from bert_mlm import progress
from bert_mlm.errors import DataError
from bert_mlm.errors import DivergedError
from bert_mlm.errors import Preempted
from bert_mlm.errors import UsageError
from bert_mlm.errors import WriteError
from bert_mlm.model import mixed_precision
from bert_mlm.model import pretraining_model
from bert_mlm.storage import checkpoints
from bert_mlm.training import checkpoint_manager
from bert_mlm.training import cluster
from bert_mlm.training import distribute
from bert_mlm.training import evaluation
from bert_mlm.training import input_faults
from bert_mlm.training import input_pipeline
from bert_mlm.training import preemption
from bert_mlm.training import record_layout
from bert_mlm.training import train_step

_KEEP_CHECKPOINT_MAX = 5  # the Estimator's default
# TensorBoard's scalar plugin metadata, so summaries show without the tensorboard package.
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR).SerializeToString()


@dataclasses.dataclass
class PretrainingOptions:
  """run_pretraining's flags (same names and defaults), plus `seed` and `train_shuffle`.

  Every path may be local or a `gs://` (any `tf.io.gfile`) URL. `bert_config` is None only in a
  dry run whose config file is not read (see `dry_run`).
  """
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
  # Not in the original: read past corrupt records (counted, logged) instead of stopping.
  skip_corrupt_records: bool = False
  optimizer: str = "adamw"
  use_xla: bool = False
  gradient_accumulation_steps: int = 1
  mixed_precision: str = ""
  # A dynamic_masking.DynamicMasking: the records are unmasked and each batch is masked in the
  # input pipeline (--dynamic_masking). None: the records' own masks.
  dynamic_masking: object = None

  def validate(self, num_replicas, on_tpu=False):
    """Raises UsageError naming the flag whose value can't work (with `num_replicas` replicas,
    on a TPU or not)."""
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
    if self.mixed_precision not in mixed_precision.POLICIES:
      raise UsageError("--mixed_precision=%s is not one of bf16, fp16 (or empty for float32)."
                       % self.mixed_precision)
    if self.mixed_precision == "fp16" and on_tpu:
      raise UsageError("--mixed_precision=fp16 is not supported on TPU; use bf16.")
    if self.num_warmup_steps < 0:
      raise UsageError("--num_warmup_steps=%d must be >= 0." % self.num_warmup_steps)
    for name in (["train_batch_size"] if self.do_train else []) + (
        ["eval_batch_size"] if self.do_eval else []):
      if getattr(self, name) % num_replicas:
        raise UsageError("--%s=%d is not divisible by the %d replicas."
                         % (name, getattr(self, name), num_replicas))
    if (self.bert_config is not None
        and self.max_seq_length > self.bert_config.max_position_embeddings):
      raise UsageError("--max_seq_length=%d exceeds the config's max_position_embeddings=%d."
                       % (self.max_seq_length, self.bert_config.max_position_embeddings))
    if self.bert_config is not None and self.bert_config.type_vocab_size < 2:
      # Caught by the embedding lookup only in the first step on CPU, never on TPU.
      raise UsageError("The config's type_vocab_size=%d is below 2: pretraining examples have "
                       "two segments (segment_ids 0 and 1)." % self.bert_config.type_vocab_size)


class Pretraining(object):
  """What a run holds under the strategy: the model, optimizer, global step, fp16 loss scale,
  the training step, the evaluator and the checkpoint manager."""

  def __init__(self, options, strategy):
    self.strategy = strategy
    self.preemption = preemption.PreemptionWatcher()
    with strategy.scope():
      self.model = pretraining_model.create_model(options.bert_config, options.mixed_precision)
      self.variables = self.model.variables_by_name()
      self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
      self.optimizer = optimization.make_optimizer(options.optimizer, self.variables,
                                                   self.global_step)
      self.loss_scale = (mixed_precision.DynamicLossScale()
                         if options.mixed_precision == "fp16" else None)
    self.train_step = train_step.TrainStep(
        strategy, self.model, self.optimizer, self.global_step,
        learning_rate=functools.partial(
            optimization.learning_rate, init_lr=options.learning_rate,
            num_train_steps=options.num_train_steps, num_warmup_steps=options.num_warmup_steps),
        clip_norm=optimization.CLIP_NORM,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        use_xla=options.use_xla, loss_scale=self.loss_scale,
        stop_requested=self.preemption.stop_requested)
    self.evaluator = evaluation.Evaluator(strategy, self.model, self.preemption.stop_requested)
    self.checkpoints = checkpoint_manager.CheckpointManager(
        options.output_dir, self.variables, self.optimizer.slots, self.global_step,
        max_to_keep=_KEEP_CHECKPOINT_MAX, is_writer=distribute.is_chief(strategy))


def train(run, options):
  """The training part of run_pretraining; returns {field: [steps]} of this run's steps."""
  latest = run.checkpoints.restore_newest()
  if latest:
    logging.info("Resuming from %s (init_checkpoint is not used).", latest)
  elif options.init_checkpoint:
    checkpoints.load_checkpoint(run.variables, options.init_checkpoint)
  step = int(run.global_step.numpy())
  history = {name: [] for name in train_step.STEP_FIELDS}
  if step >= options.num_train_steps:
    logging.info("Already at step %d of %d; nothing to train.", step, options.num_train_steps)
    return {name: np.zeros(0, np.float32) for name in history}

  reader = _skipping_reader(options)
  iterator = _train_iterator(run, options, step, reader)
  writer = (tf.summary.create_file_writer(options.output_dir) if run.checkpoints.is_writer
            else tf.summary.create_noop_writer())
  examples_per_step = options.train_batch_size * options.gradient_accumulation_steps
  logging.info("***** Running training *****")
  logging.info("  Batch size = %d, steps %d -> %d", options.train_batch_size, step,
               options.num_train_steps)
  if step == 0 and not latest:
    run.checkpoints.save()  # the Estimator writes model.ckpt-0 first too
  steps_done = progress.Progress(options.num_train_steps, done=step)
  while step < options.num_train_steps:
    next_save = (step // options.save_checkpoints_steps + 1) * options.save_checkpoints_steps
    num_steps = min(options.iterations_per_loop, next_save - step, options.num_train_steps - step)
    start = time.time()
    try:
      records = run.train_step.run(iterator, num_steps)
    except tf.errors.OpError as e:
      if not input_faults.is_input_error(e):
        raise
      writer.close()
      raise _data_fault(run, options, e, reader, step) from None
    examples_per_second = (len(records["total_loss"]) * examples_per_step /
                           (time.time() - start))
    _stop_unless_finite(records, step, run.checkpoints)
    for name, values in records.items():
      history[name].append(values)
    _write_step_summaries(writer, records, step, examples_per_second, step + num_steps)
    # Read back: under fp16 a step whose gradients overflowed is skipped and not counted.
    step = int(run.global_step.numpy())
    if len(records["total_loss"]) < num_steps:  # a stop was requested before a step
      prefix = run.checkpoints.save()
      writer.close()
      raise Preempted("stopped at step %d (%s); rerun the same command to resume." % (
          step, "saved " + prefix if prefix else "the chief saves the checkpoint"))
    steps_done.update(step)
    logging.info("step %s: loss %.4f (masked LM %.4f, next sentence %.4f), lr %.3g, "
                 "%.1f examples/s, %s", steps_done.counts(), records["total_loss"][-1],
                 records["masked_lm_loss"][-1], records["next_sentence_loss"][-1],
                 records["learning_rate"][-1], examples_per_second, steps_done.eta_text())
    if step % options.save_checkpoints_steps == 0 or step == options.num_train_steps:
      run.checkpoints.save()
  writer.close()
  if reader is not None:
    logging.info("%s", reader.summary())
  logging.info("Training done at step %d.", step)
  return {name: np.concatenate(values) for name, values in history.items()}


def _train_iterator(run, options, step, reader):
  """The distributed training batches from global step `step` on."""
  # A resumed run passes over the batches already trained on, so it sees what the uninterrupted
  # run would have seen (shuffled: only with --seed, which fixes the order).
  consumed = step * options.gradient_accumulation_steps
  if consumed:
    logging.info("Passing over the %d batches consumed before step %d%s.", consumed, step,
                 "" if not options.train_shuffle or options.seed is not None else
                 " (without --seed the shuffled order differs from the first run's)")
  dataset = input_pipeline.make_dataset(
      options.input_files, options.max_seq_length, options.max_predictions_per_seq,
      options.train_batch_size, is_training=True, shuffle=options.train_shuffle, seed=options.seed,
      masking=options.dynamic_masking, skip_batches=consumed, skip_corrupt=reader)
  return iter(run.strategy.experimental_distribute_dataset(dataset))


def _write_step_summaries(writer, records, step, examples_per_second, rate_step):
  """Each step's STEP_FIELDS at its global step (the loop call started after `step`), and the
  call's examples/s at `rate_step`."""
  with writer.as_default():
    for name, values in records.items():
      for offset, value in enumerate(values):
        _scalar(name, value, step + offset + 1)
    _scalar("examples_per_sec", examples_per_second, rate_step)


def _layout(options):
  """The record layout the run reads (unmasked records with --dynamic_masking)."""
  return record_layout.RecordLayout(options.max_seq_length, options.max_predictions_per_seq,
                                    masked=options.dynamic_masking is None)


def _skipping_reader(options):
  """The reader past corrupt records with --skip_corrupt_records, else None."""
  if not options.skip_corrupt_records:
    return None
  return input_faults.SkippingReader(options.input_files, _layout(options))


def _data_fault(run, options, error, reader, loop_start):
  """The DataError for an input error in the training loop, after saving a checkpoint at the
  last completed step."""
  what = input_faults.describe(error, options.input_files, _layout(options), reader)
  step = int(run.global_step.numpy())  # the steps before the failed one completed
  if step > loop_start:
    # They ran inside the call that failed, whose per-step records are lost with it.
    logging.warning("Steps %d-%d completed, but their losses are not in the log or TensorBoard "
                    "(they were in the loop call that failed).", loop_start + 1, step)
  prefix = os.path.join(options.output_dir, "model.ckpt-%d" % step)
  if not run.checkpoints.is_writer:
    saved = "the chief saves the checkpoint"
  elif run.checkpoints.kept and run.checkpoints.kept[-1] == prefix:
    saved = "%s holds it" % prefix
  else:
    try:
      saved = "saved " + run.checkpoints.save()
    except WriteError as e:
      saved = "but the checkpoint could not be saved (%s)" % e
  skip_hint = "" if options.skip_corrupt_records else (
      ", or rerun with --skip_corrupt_records to read past corrupt records")
  return DataError("%s; training stopped after step %d (%s); repair or remove the file and rerun "
                   "to resume%s." % (what, step, saved, skip_hint))


def _stop_unless_finite(records, step, manager):
  """Raises DivergedError at the first step whose loss or learning rate is not finite."""
  values = np.stack([records[name] for name in train_step.STEP_FIELDS], axis=1)
  finite = np.all(np.isfinite(values), axis=1)
  if not np.all(finite):
    bad = int(np.argmin(finite))
    raise DivergedError(
        "The loss became %s at step %d; training stopped. The last good checkpoint is %s."
        % (records["total_loss"][bad], step + bad, manager.kept[-1] if manager.kept else "none"))


def _scalar(name, value, step):
  tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR_METADATA)


def evaluate(run, options, trained=False):
  """The evaluation part: the weights just trained (`trained`: train() ran and left the newest
  checkpoint's state in memory), else the latest checkpoint in output_dir, else init_checkpoint;
  writes output_dir/eval_results.txt as the original does; returns the metrics."""
  start = time.time()
  latest = None if trained else run.checkpoints.latest
  if trained:
    # Every worker holds the same weights after train(); none reads the checkpoint directory,
    # where the chief may still be writing the last checkpoint (a worker that read the state
    # file too early evaluated the previous checkpoint's weights in the same collective sum).
    # Reading the weights back would also be most of the time between training and evaluation
    # on a bucket.
    source = "those trained to global step %d" % int(run.global_step.numpy())
    logging.info("Evaluating the weights just trained (global step %d).",
                 int(run.global_step.numpy()))
  elif latest:
    source = latest
    step = int(checkpoints.CheckpointReader(latest).read(checkpoints.GLOBAL_STEP))
    checkpoints.load_checkpoint(run.variables, latest)
    run.global_step.assign(step)
    logging.info("Loaded %s (global step %d) in %.1f s.", latest, step, time.time() - start)
  elif options.init_checkpoint:
    source = options.init_checkpoint
    checkpoints.load_checkpoint(run.variables, options.init_checkpoint)
  else:
    raise UsageError("--do_eval: no checkpoint in --output_dir=%s and no --init_checkpoint."
                     % options.output_dir)
  reader = _skipping_reader(options)
  dataset = input_pipeline.make_dataset(
      options.input_files, options.max_seq_length, options.max_predictions_per_seq,
      options.eval_batch_size, is_training=False, masking=options.dynamic_masking,
      skip_corrupt=reader)
  iterator = iter(run.strategy.experimental_distribute_dataset(dataset))
  logging.info("***** Running evaluation *****")
  logging.info("  Batch size = %d", options.eval_batch_size)
  try:
    result = run.evaluator.evaluate(iterator, options.max_eval_steps, run.global_step.numpy())
  except tf.errors.OpError as e:
    if not input_faults.is_input_error(e):
      raise
    raise DataError("%s; evaluation stopped (nothing to save: the weights evaluated are %s); "
                    "repair or remove the file and rerun%s." % (
                        input_faults.describe(e, options.input_files, _layout(options), reader),
                        source,
                        "" if options.skip_corrupt_records else
                        ", or rerun with --skip_corrupt_records")) from None
  if reader is not None:
    logging.info("%s", reader.summary())
  if run.checkpoints.is_writer:
    evaluation.write_eval_results(options.output_dir, result)
    write_eval_summaries(options.output_dir, result)
  return result


def write_eval_summaries(output_dir, result):
  """Writes the eval metrics as TensorBoard scalars in `output_dir/eval` at their global step,
  beside the training curves in `output_dir`, as the Estimator did."""
  writer = tf.summary.create_file_writer(os.path.join(output_dir, "eval"))
  with writer.as_default():
    for name, value in sorted(result.items()):
      if name != "global_step":
        _scalar(name, value, result["global_step"])
  writer.close()


def _check_before_any_step(options, strategy):
  options.validate(strategy.num_replicas_in_sync,
                   on_tpu=isinstance(strategy, tf.distribute.TPUStrategy))
  # The output directory (created here) and the records' layout.
  checkpoint_manager.check_writable(options.output_dir)
  record_layout.check_records(options.input_files, _layout(options), options.dynamic_masking)


def run_pretraining(options, strategy):
  """The whole job: validate, then train and/or evaluate. Returns (train history, eval result)."""
  cluster.check_same_run(strategy, options, lambda: _check_before_any_step(options, strategy))
  if options.seed is not None:
    keras.utils.set_random_seed(options.seed)
  run = Pretraining(options, strategy)
  if options.init_checkpoint:
    # Fail before any step on an init checkpoint of another shape (even when resuming).
    checkpoints.check_shapes(run.variables, checkpoints.CheckpointReader(options.init_checkpoint))
  with run.preemption, cluster.stop_together(run, options.output_dir, options.do_train):
    history = train(run, options) if options.do_train else None
    result = evaluate(run, options, trained=options.do_train) if options.do_eval else None
  return history, result
