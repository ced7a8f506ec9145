"""The original's evaluation: its metric_fn over `max_eval_steps` batches, and eval_results.txt.

  masked_lm_accuracy, masked_lm_loss      weighted by masked_lm_weights
  next_sentence_accuracy, next_sentence_loss
  loss                                    the mean of the batches' total losses
  global_step                             of the weights evaluated
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from bert_mlm import errors
from bert_mlm import progress
from bert_mlm.model import losses
from bert_mlm.storage import atomic
from bert_mlm.training import distribute

# Seconds between progress lines: none for a short evaluation.
_PROGRESS_SECONDS = 10.0


class Evaluator(object):
  """Runs the model in inference mode on every replica and adds up the metric sums."""

  def __init__(self, strategy, model, stop_requested=None):
    """stop_requested: a bool variable (preemption); when set, evaluation stops between batches
    with Preempted (nothing to save: a rerun evaluates again)."""
    self.strategy = strategy
    self.model = model
    self.stop_requested = stop_requested
    self._step = tf.function(self._step_fn)

  def _replica_sums(self, features):
    outputs = self.model(features, training=False, masked_positions_only=True)
    return losses.metric_sums(outputs, features)

  def _step_fn(self, iterator):
    """One batch's metric sums, added across replicas."""
    return distribute.reduce_sum(self.strategy, self.strategy.run(self._replica_sums,
                                                                  args=(next(iterator),)))

  def evaluate(self, iterator, num_steps, global_step):
    """The metrics over `num_steps` batches of `iterator`, as a dict (see the module doc)."""
    sums = {}
    batch_losses = []
    start = time.time()
    batches_done = progress.Progress(num_steps, interval=_PROGRESS_SECONDS)
    for index in range(num_steps):
      if self.stop_requested is not None and bool(self.stop_requested.numpy()):
        raise errors.Preempted("stopped during evaluation; rerun the same command to evaluate.")
      batch = {k: v.numpy().astype(np.float64) for k, v in self._step(iterator).items()}
      batch_losses.append(losses.total_loss(batch))
      sums = {k: sums.get(k, 0.0) + v for k, v in batch.items()}
      if index == 0:
        logging.info("  First eval batch (tracing the eval step) in %.1f s", time.time() - start)
      batches_done.update(index + 1)
      if batches_done.due():
        logging.info("  eval batch %s", batches_done.line())
    logging.info("  %d eval batches in %.1f s", num_steps, time.time() - start)
    result = losses.metrics(sums)
    result["loss"] = float(np.float32(np.mean(batch_losses)))
    result["global_step"] = int(global_step)
    return result


def write_eval_results(output_dir, result):
  """Writes `output_dir/eval_results.txt` (`key = value`, sorted) as the original does, and
  logs it; atomically."""
  path = os.path.join(output_dir, "eval_results.txt")
  logging.info("***** Eval results *****")
  for key in sorted(result):
    logging.info("  %s = %s", key, str(result[key]))
  try:
    atomic.write_text(
        path, "".join("%s = %s\n" % (key, str(result[key])) for key in sorted(result)))
  except errors.WriteError as e:
    raise errors.WriteError("%s (the results are in the log above; an existing %s is "
                            "unchanged)." % (e, os.path.basename(path))) from None
  return path
