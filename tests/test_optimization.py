"""The optimizer step for step against the original's create_optimizer (same checkpoint, batches)."""

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm.storage import checkpoints
from bert_mlm import optimization
from bert_mlm.config import BertConfig
from bert_mlm.model import losses
from bert_mlm.model.pretraining_model import BertPretrainingModel
from reference import original_model
from tests import helpers

_CONFIG = helpers.TRAIN_CONFIG


def _train_ours(prefix, batches, init_lr, num_train_steps, num_warmup_steps):
  model = BertPretrainingModel(BertConfig.from_dict(_CONFIG))
  variables = model.variables_by_name()
  checkpoints.load_checkpoint(variables, prefix)
  optimizer = optimization.AdamWeightDecayOptimizer(variables)
  names = list(variables)
  steps = []
  for step, batch in enumerate(batches):
    with tf.GradientTape() as tape:
      outputs = losses.pretraining_losses(model(batch, training=True), batch)
    grads = tape.gradient(outputs["total_loss"], [variables[n] for n in names])
    lr = optimization.learning_rate(step, init_lr, num_train_steps, num_warmup_steps)
    # As the training step clips: the factor applied inside the update.
    optimizer.apply_gradients(dict(zip(names, grads)), lr,
                              optimization.clip_scale(grads, optimization.CLIP_NORM))
    steps.append({"learning_rate": lr.numpy(), "total_loss": outputs["total_loss"].numpy(),
                  "masked_lm_loss": outputs["masked_lm_loss"].numpy(),
                  "next_sentence_loss": outputs["next_sentence_loss"].numpy()})
  final = {name: v.numpy() for name, v in variables.items()}
  for name, (m, v) in optimizer.slots.items():
    final[name + "/adam_m"], final[name + "/adam_v"] = m.numpy(), v.numpy()
  return steps, final


@pytest.mark.parametrize("num_train_steps, num_warmup_steps",
                         [pytest.param(6, 2, marks=pytest.mark.slow), (6, 0), (4, 10)])
def test_steps_match_original(tmp_path, num_train_steps, num_warmup_steps):
  batches = [helpers.make_features(_CONFIG, batch_size=4, seq_length=24, max_predictions=4, seed=s)
             for s in range(6)]
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, batches[0], save_checkpoint=init)
  init_lr = 1e-2  # large, so that a wrong update would show
  theirs = original_model.run_original_training(_CONFIG, batches, init, init_lr, num_train_steps,
                                                num_warmup_steps)
  our_steps, our_final = _train_ours(init, batches, init_lr, num_train_steps, num_warmup_steps)
  for i, (a, b) in enumerate(zip(our_steps, theirs["steps"])):
    for key in ("learning_rate", "total_loss", "masked_lm_loss", "next_sentence_loss"):
      np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7,
                                 err_msg="step %d %s" % (i, key))
  helpers.assert_states_close(our_final, theirs["variables"])


def test_learning_rate_schedule():
  lrs = [float(optimization.learning_rate(i, 1.0, 10, 4)) for i in range(12)]
  np.testing.assert_allclose(lrs, [0.0, 0.25, 0.5, 0.75, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0],
                             atol=1e-7)
  assert float(optimization.learning_rate(0, 1.0, 10, 0)) == 1.0


def test_weight_decay_exclusions():
  optimizer = optimization.AdamWeightDecayOptimizer({})
  assert optimizer.uses_weight_decay("bert/encoder/layer_0/attention/self/query/kernel")
  assert optimizer.uses_weight_decay("cls/seq_relationship/output_weights")
  for name in ("bert/embeddings/LayerNorm/gamma", "bert/pooler/dense/bias",
               "cls/predictions/output_bias", "x/layer_norm/beta"):
    assert not optimizer.uses_weight_decay(name)


def _numpy_lamb(params, grads_per_step, lr, wd=0.01, b1=0.9, b2=0.999, eps=1e-6,
                excluded=("LayerNorm", "layer_norm", "bias")):
  """LAMB written out in numpy (float64), as the paper defines it."""
  params = {n: p.astype(np.float64) for n, p in params.items()}
  m = {n: np.zeros_like(p) for n, p in params.items()}
  v = {n: np.zeros_like(p) for n, p in params.items()}
  for t, grads in enumerate(grads_per_step, 1):
    for n, g in grads.items():
      m[n] = b1 * m[n] + (1 - b1) * g
      v[n] = b2 * v[n] + (1 - b2) * g * g
      update = (m[n] / (1 - b1 ** t)) / (np.sqrt(v[n] / (1 - b2 ** t)) + eps)
      adapt = not any(e in n for e in excluded)
      if adapt:
        update = update + wd * params[n]
      ratio = 1.0
      if adapt:
        w_norm, u_norm = np.linalg.norm(params[n]), np.linalg.norm(update)
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
      params[n] = params[n] - lr * ratio * update
  return params


def test_lamb_matches_numpy():
  rng = np.random.RandomState(0)
  shapes = {"bert/encoder/layer_0/output/dense/kernel": (5, 3),
            "bert/encoder/layer_0/output/dense/bias": (3,),
            "bert/embeddings/LayerNorm/gamma": (4,),
            "zero_init/kernel": (2, 2)}
  initial = {n: rng.randn(*s).astype(np.float32) for n, s in shapes.items()}
  initial["zero_init/kernel"][:] = 0.0  # ||param|| = 0 -> trust ratio 1
  grads = [{n: rng.randn(*s).astype(np.float32) for n, s in shapes.items()} for _ in range(4)]
  variables = {n: tf.Variable(p) for n, p in initial.items()}
  step = tf.Variable(0, dtype=tf.int64)
  lamb = optimization.Lamb(variables, step)
  for g in grads:
    lamb.apply_gradients({n: tf.constant(x) for n, x in g.items()}, 0.01)
    step.assign_add(1)
  expected = _numpy_lamb(initial, grads, 0.01)
  for name, value in expected.items():
    np.testing.assert_allclose(variables[name].numpy(), value, rtol=2e-5, atol=1e-6,
                               err_msg=name)
