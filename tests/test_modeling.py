"""The Keras BERT + heads against the original's graph: same checkpoint, same batch, same numbers."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm.storage import checkpoints
from bert_mlm.config import BertConfig
from bert_mlm.model import losses
from bert_mlm.model.pretraining_model import BertPretrainingModel
from reference import original_model
from tests import helpers

_TINY = helpers.TINY_CONFIG
_OUTPUTS = ("sequence_output", "pooled_output", "masked_lm_loss", "masked_lm_example_loss",
            "masked_lm_log_probs", "next_sentence_loss", "next_sentence_example_loss",
            "next_sentence_log_probs", "total_loss")

def assert_close(ours, theirs, rtol=1e-5):
  for name in _OUTPUTS:
    a, b = np.asarray(ours[name], np.float64), np.asarray(theirs[name], np.float64)
    assert a.shape == b.shape, name
    scale = max(np.max(np.abs(b)), 1e-6)
    error = np.max(np.abs(a - b)) / scale
    assert error <= rtol, "%s differs: max error %.3g of max |value| %.3g" % (name, error, scale)


def with_losses(outputs, features):
  """The model's outputs and the batch's losses (the original's model_fn computes both)."""
  return dict(outputs, **losses.pretraining_losses(outputs, features))


def our_outputs(config_dict, checkpoint, features):
  model = BertPretrainingModel(BertConfig.from_dict(config_dict))
  checkpoints.load_checkpoint(model.variables_by_name(), checkpoint)
  return {k: v.numpy() for k, v in with_losses(model(features, training=False), features).items()}


@pytest.mark.parametrize("hidden_act", ["gelu", "relu", "tanh", "linear"])
def test_original_checkpoint_into_ours(hidden_act, tmp_path):
  config = dict(_TINY, hidden_act=hidden_act)
  features = helpers.make_features(config)
  prefix = str(tmp_path / "original.ckpt")
  theirs = original_model.run_original_pretraining_graph(config, features, save_checkpoint=prefix)
  assert_close(our_outputs(config, prefix, features), theirs)


def test_our_checkpoint_into_original(tmp_path):
  config = _TINY
  features = helpers.make_features(config, seed=3)
  model = BertPretrainingModel(BertConfig.from_dict(config))
  ours = {k: v.numpy() for k, v in with_losses(model(features), features).items()}
  prefix = checkpoints.save_checkpoint(
      str(tmp_path / "model.ckpt-7"),
      checkpoints.model_tensors(model.variables_by_name(), global_step=7))
  theirs = original_model.run_original_pretraining_graph(config, features,
                                                         init_checkpoint=prefix)
  # Every variable of the original's graph was found in our checkpoint, with our values.
  assert set(theirs["variables"]) == set(model.variables_by_name())
  for name, value in theirs["variables"].items():
    np.testing.assert_array_equal(value, model.variables_by_name()[name].numpy())
  assert_close(ours, theirs)


@pytest.mark.slow
def test_variable_names_and_shapes_match_original_for_bert_base(tmp_path):
  with open(os.path.join(os.path.dirname(__file__), "..", "configs", "bert_base_uncased.json")) as f:
    config = json.load(f)
  features = helpers.make_features(config, batch_size=1, seq_length=8, max_predictions=2)
  theirs = {name: tuple(value.shape) for name, value in
            original_model.run_original_pretraining_graph(config, features)["variables"].items()}
  ours = {name: tuple(v.shape) for name, v in
          BertPretrainingModel(BertConfig.from_dict(config)).variables_by_name().items()}
  assert ours == theirs
  assert len([n for n in ours if n.startswith("bert/embeddings/")]) == 5
  for i in range(12):
    assert len([n for n in ours if n.startswith("bert/encoder/layer_%d/" % i)]) == 16
  assert len(ours) == 5 + 12 * 16 + 2 + 5 + 2


@pytest.mark.slow
def test_real_pretrained_weights(tmp_path):
  """A real 6-layer BERT (all-MiniLM-L6-v2), converted to the original's format, loads in both."""
  from reference import minilm_checkpoint  # pylint: disable=g-import-not-at-top
  prefix, config = minilm_checkpoint.convert_minilm(str(tmp_path / "minilm"))
  features = helpers.make_features(config, batch_size=2, seq_length=32, max_predictions=5, seed=1)
  # The encoder comes from the real checkpoint; the original's heads start random, so save the
  # original's full graph (real encoder + its heads) and load that into ours.
  full = str(tmp_path / "full.ckpt")
  theirs = original_model.run_original_pretraining_graph(config, features, init_checkpoint=prefix,
                                                         save_checkpoint=full)
  assert_close(our_outputs(config, full, features), theirs)
  # And the released-format checkpoint alone: the encoder outputs match.
  model = BertPretrainingModel(BertConfig.from_dict(config))
  loaded = checkpoints.load_checkpoint(model.variables_by_name(), prefix)
  assert all(name.startswith("bert/") for name in loaded) and len(loaded) >= 5 + 6 * 16
  ours = model.bert(features["input_ids"], features["input_mask"], features["segment_ids"])
  np.testing.assert_allclose(ours["sequence_output"].numpy(), theirs["sequence_output"],
                             rtol=1e-5, atol=1e-5)


def test_dropout_only_in_training():
  config = BertConfig.from_dict(_TINY)
  model = BertPretrainingModel(config)
  features = helpers.make_features(_TINY)
  eval_a = with_losses(model(features, training=False), features)["total_loss"].numpy()
  eval_b = with_losses(model(features, training=False), features)["total_loss"].numpy()
  train = with_losses(model(features, training=True), features)["total_loss"].numpy()
  assert eval_a == eval_b and train != eval_a


def test_masked_positions_only_gives_the_same_losses_and_gradients():
  """The last layer run at the masked rows and [CLS] alone: same outputs and gradients."""
  config = BertConfig.from_dict(dict(_TINY, hidden_dropout_prob=0.0,
                                     attention_probs_dropout_prob=0.0))
  model = BertPretrainingModel(config)
  features = helpers.make_features(_TINY, seed=5)
  results = []
  for masked_positions_only in (False, True):
    with tf.GradientTape() as tape:
      outputs = with_losses(
          model(features, training=True, masked_positions_only=masked_positions_only), features)
    grads = tape.gradient(outputs["total_loss"], model.trainable_variables)
    results.append((outputs, [tf.convert_to_tensor(g).numpy() for g in grads]))
  (full, full_grads), (partial, partial_grads) = results
  for name in ("total_loss", "masked_lm_example_loss", "masked_lm_log_probs",
               "next_sentence_example_loss", "next_sentence_log_probs", "pooled_output"):
    np.testing.assert_allclose(partial[name].numpy(), full[name].numpy(), rtol=1e-5, atol=1e-6,
                               err_msg=name)
  positions = np.asarray(features["masked_lm_positions"])
  np.testing.assert_allclose(
      partial["sequence_output"].numpy(),
      np.take_along_axis(full["sequence_output"].numpy(), positions[:, :, None], axis=1),
      rtol=1e-5, atol=1e-6)
  # Per variable, but at least 1e-2 of the largest gradient: the attention key biases' gradients
  # are zero in exact arithmetic (softmax ignores a per-query constant), round-off on both sides.
  floor = 1e-2 * max(np.max(np.abs(b)) for b in full_grads)
  for variable, a, b in zip(model.trainable_variables, partial_grads, full_grads):
    scale = max(np.max(np.abs(b)), floor)
    assert np.max(np.abs(a - b)) <= 1e-5 * scale, variable.path


@pytest.mark.parametrize("masked_positions_only", [False, True])
def test_dropout_masks_drawn_beforehand_are_the_ones_the_pass_draws(masked_positions_only):
  """The masks a step compiled with XLA is given (drawn outside it) are the masks the forward
  pass draws itself from the same generator state; given inside a compiled pass, the outputs
  agree to round-off."""
  config = BertConfig.from_dict(_TINY)
  model = BertPretrainingModel(config)
  features = helpers.make_features(_TINY, seed=9)
  layers = model.bert.dropout_layers()

  def reset_generators():
    for i, layer in enumerate(layers):
      layer.seed_generator.state.assign([1234 + i, 0])

  def run(masks):
    with model.bert.dropout_masks_given(masks):
      return model(features, training=True, masked_positions_only=masked_positions_only)

  reset_generators()
  drawn = run(None)
  reset_generators()
  batch, seq = features["input_ids"].shape
  num_positions = features["masked_lm_positions"].shape[1] if masked_positions_only else None
  masks = model.bert.draw_dropout_masks(batch, seq, num_positions)
  given = run(masks)
  compiled = tf.function(run, jit_compile=True)(masks)
  assert all(layer.given_keep is None for layer in layers)
  assert 0.8 < np.mean([m.numpy().mean() for m in masks]) < 0.95  # rate 0.1
  for name in ("masked_lm_log_probs", "next_sentence_log_probs", "sequence_output"):
    np.testing.assert_array_equal(given[name].numpy(), drawn[name].numpy(), err_msg=name)
    np.testing.assert_allclose(compiled[name].numpy(), drawn[name].numpy(), rtol=1e-5,
                               atol=1e-5, err_msg=name)
  reset_generators()
  assert not np.array_equal(run(None)["sequence_output"].numpy(),
                            run(None)["sequence_output"].numpy())  # each pass draws anew
  masks[1] = masks[1][:, :, :1]
  with pytest.raises(ValueError, match="attention/self/dropout.*a dropout mask of shape"):
    run(masks)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_dropout_keeps_at_the_rate_and_scales(jit_compile):
  from bert_mlm import modeling  # pylint: disable=g-import-not-at-top
  layer = modeling.Dropout(0.1)
  run = tf.function(lambda t, training: layer(t, training=training), jit_compile=jit_compile)
  x = tf.ones([400, 500])
  np.testing.assert_array_equal(run(x, False).numpy(), x.numpy())
  y = run(x, True).numpy()
  kept = y != 0
  assert abs(kept.mean() - 0.9) < 0.005
  np.testing.assert_allclose(y[kept], 1.0 / 0.9, rtol=1e-6)
  assert not np.array_equal(run(x, True).numpy(), y)  # a new mask every call
