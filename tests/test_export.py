"""export_savedmodel.py: SavedModels that compute our model's outputs without this package."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_mlm.storage import checkpoints
from bert_mlm.interop import savedmodel
from bert_mlm import tokenization
from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError
from bert_mlm.model.pretraining_model import BertPretrainingModel
from tests import helpers

# Every test here uses the exported SavedModels, a module fixture of several seconds.
pytestmark = pytest.mark.slow

_TEXTS = ["The first settlers built houses of stone.", "Roswitha milks the goat at dawn!",
          "By 1387, Lislemouth had grown to 710 people.", "石桥 (stone bridge)"]
_PAIRS = [("Roswitha gets up at dawn.", "Then she brushes the horse, and sings an old song."),
          ("A day in the life of the cheesemaker.", "Later she gathers mushrooms " * 8)]

# Runs in a fresh interpreter (-I: no PYTHONPATH, no user site, not the script's directory) with
# bert_mlm blocked even through the editable install's import hook: only TensorFlow and
# tensorflow-text.
_CHILD = helpers.NO_BERT_MLM + r'''
import numpy as np
import tensorflow as tf
import tensorflow_text  # registers the tokenizer's ops

export_dir, inputs_file, outputs_file = sys.argv[1:]
inputs = dict(np.load(inputs_file))
encoder = tf.saved_model.load(export_dir + "/encoder")
preprocess = tf.saved_model.load(export_dir + "/preprocessing")
out = {}
names = ("input_word_ids", "input_mask", "input_type_ids")
encoder_inputs = {n: tf.constant(inputs[n]) for n in names}
called = encoder(encoder_inputs)
for k in ("pooled_output", "sequence_output", "default"):
  out["call_" + k] = called[k].numpy()
for i, layer in enumerate(called["encoder_outputs"]):
  out["call_encoder_outputs_%d" % i] = layer.numpy()
mlm = encoder.mlm(dict(encoder_inputs, masked_lm_positions=tf.constant(inputs["positions"])))
out["mlm_logits"] = mlm["mlm_logits"].numpy()
# training=True: dropout, a fresh mask each call; the same weights.
inference = called["sequence_output"].numpy()
training = [encoder(encoder_inputs, training=True)["sequence_output"].numpy() for _ in range(20)]
out["dropout_mean_abs_change"] = np.mean([np.abs(t - inference).mean() for t in training])
out["dropout_calls_differ"] = np.abs(training[0] - training[1]).max()
out["call_again_sequence_output"] = encoder(encoder_inputs)["sequence_output"].numpy()
out["serve_pooled_output"] = encoder.serve(encoder_inputs)["pooled_output"].numpy()
out["call_training_differs"] = np.abs(
    encoder.call_training(encoder_inputs)["pooled_output"].numpy() - out["serve_pooled_output"]).max()
mlm_training = encoder.mlm(dict(encoder_inputs, masked_lm_positions=tf.constant(inputs["positions"])),
                           training=True)
out["mlm_training_differs"] = np.abs(mlm_training["mlm_logits"].numpy() - out["mlm_logits"]).max()
out["num_variables"] = len(encoder.variables)
out["trainable_names"] = np.array(sorted(v.name for v in encoder.trainable_variables))
out["num_regularization_losses"] = len(encoder.regularization_losses)
signature = encoder.signatures["mlm"](masked_lm_positions=tf.constant(inputs["positions"]),
                                      **encoder_inputs)
for k, v in signature.items():
  out["signature_" + k] = v.numpy()
texts = tf.constant([t.encode("utf-8") for t in inputs["texts"]])
single = preprocess.bert_pack_inputs([preprocess.tokenize(texts)], seq_length=24)
for k, v in single.items():
  out["single_" + k] = v.numpy()
out["single_sequence_output"] = encoder(single)["sequence_output"].numpy()
out["single_pooled_output"] = encoder(single)["pooled_output"].numpy()
a = preprocess.tokenize(tf.constant([t.encode("utf-8") for t in inputs["a"]]))
b = preprocess.tokenize(tf.constant([t.encode("utf-8") for t in inputs["b"]]))
pair = preprocess.bert_pack_inputs([a, b], seq_length=tf.constant(20))
for k, v in pair.items():
  out["pair_" + k] = v.numpy()
out["pair_pooled_output"] = encoder(pair)["pooled_output"].numpy()
default = preprocess(texts)  # one segment, the default seq_length
out["default_input_word_ids"] = default["input_word_ids"].numpy()
np.savez(outputs_file, **out)
'''


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_vocab):
  """A small random model, its checkpoint, and export_savedmodel.py's output."""
  directory = tmp_path_factory.mktemp("export")
  config = BertConfig.from_json_file(os.path.join(helpers.REPO, "configs", "sample_tiny.json"))
  keras.utils.set_random_seed(7)
  model = BertPretrainingModel(config)
  # Non-zero biases, so that the test sees them.
  for name, variable in model.variables_by_name().items():
    if name.endswith("bias") or name.endswith("beta"):
      variable.assign(np.random.RandomState(len(name)).normal(0, 0.1, variable.shape))
  prefix = str(directory / "model.ckpt")
  checkpoints.save_checkpoint(prefix, checkpoints.model_tensors(model.variables_by_name(),
                                                                global_step=0))
  config_file = str(directory / "bert_config.json")
  with open(config_file, "w") as f:
    json.dump(config.to_dict(), f)
  result = subprocess.run(
      [sys.executable, os.path.join(helpers.REPO, "export_savedmodel.py"),
       "--input_checkpoint=" + prefix, "--bert_config_file=" + config_file,
       "--vocab_file=" + sample_vocab, "--do_lower_case=True",
       "--output_dir=" + str(directory / "out"), "--seq_length=32"],
      capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 0, result.stderr[-3000:]
  return model, str(directory / "out"), directory


@pytest.fixture(scope="module")
def fresh_process_outputs(exported):
  """The SavedModels' outputs, computed in a process without bert_mlm."""
  model, export_dir, directory = exported
  rng = np.random.RandomState(0)
  batch, seq = 3, 20
  ids = rng.randint(0, model.config.vocab_size, [batch, seq]).astype(np.int32)
  mask = np.ones([batch, seq], np.int32)
  mask[1, 12:] = 0
  mask[2, 5:] = 0
  types = (np.arange(seq)[None, :] >= 8).astype(np.int32).repeat(batch, 0) * mask
  positions = np.array([[1, 3, 7, 19], [0, 2, 11, 5], [4, 1, 0, 0]], np.int32)
  inputs = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types,
            "positions": positions, "texts": np.array(_TEXTS),
            "a": np.array([a for a, _ in _PAIRS]), "b": np.array([b for _, b in _PAIRS])}
  inputs_file, outputs_file = str(directory / "inputs.npz"), str(directory / "outputs.npz")
  np.savez(inputs_file, **inputs)
  script = str(directory / "child.py")
  with open(script, "w") as f:
    f.write(_CHILD)
  env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
  result = subprocess.run([sys.executable, "-I", script, export_dir, inputs_file, outputs_file],
                          capture_output=True, text=True, cwd=str(directory), env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  return inputs, dict(np.load(outputs_file))


def _bert(model, ids, mask, types):
  return model.bert(tf.constant(ids), tf.constant(mask), tf.constant(types), training=False)


def test_encoder_outputs_equal_the_keras_models(exported, fresh_process_outputs):
  model, _, _ = exported
  inputs, out = fresh_process_outputs
  want = _bert(model, inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"])
  for prefix in ("call_", "signature_"):
    np.testing.assert_allclose(out[prefix + "pooled_output"], want["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(out[prefix + "default"], want["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(out[prefix + "sequence_output"], want["sequence_output"],
                               atol=1e-5)
    for i, layer in enumerate(want["all_encoder_layers"]):
      np.testing.assert_allclose(out[prefix + "encoder_outputs_%d" % i], layer, atol=1e-5)
  assert "call_encoder_outputs_%d" % model.config.num_hidden_layers not in out


def test_training_applies_the_configs_dropout(exported, fresh_process_outputs):
  """TF Hub's reusable SavedModel API: training=True is dropout at the config's rates (the mean
  change it makes is our Keras model's, within sampling noise), a new mask per call;
  training=False is deterministic; every encoder weight (the pooler's too) is trainable."""
  model, _, _ = exported
  inputs, out = fresh_process_outputs
  args = [tf.constant(inputs[k]) for k in ("input_word_ids", "input_mask", "input_type_ids")]
  inference = model.bert(*args, training=False)["sequence_output"].numpy()
  ours = np.mean([np.abs(model.bert(*args, training=True)["sequence_output"].numpy() -
                         inference).mean() for _ in range(20)])
  assert 0.85 < out["dropout_mean_abs_change"] / ours < 1.15, (out["dropout_mean_abs_change"],
                                                               ours)
  assert out["dropout_calls_differ"] > 1e-2
  np.testing.assert_array_equal(out["call_again_sequence_output"], out["call_sequence_output"])
  np.testing.assert_allclose(out["serve_pooled_output"], out["call_pooled_output"], atol=1e-6)
  assert out["call_training_differs"] > 1e-3 and out["mlm_training_differs"] > 1e-3
  assert out["num_variables"] == len(model.variables)  # the heads and the dropout seeds too
  assert out["trainable_names"].tolist() == sorted(
      v.value.name for v in model.bert.trainable_weights)
  assert len(out["trainable_names"]) == 39 and out["num_regularization_losses"] == 0


def test_mlm_logits_are_the_heads(exported, fresh_process_outputs):
  """log_softmax(mlm_logits) is the masked LM head's log-probs at the same positions."""
  model, _, _ = exported
  inputs, out = fresh_process_outputs
  features = {"input_ids": inputs["input_word_ids"], "input_mask": inputs["input_mask"],
              "segment_ids": inputs["input_type_ids"],
              "masked_lm_positions": inputs["positions"],
              "masked_lm_ids": np.zeros_like(inputs["positions"]),
              "masked_lm_weights": np.ones(inputs["positions"].shape, np.float32),
              "next_sentence_labels": np.zeros([3, 1], np.int32)}
  log_probs = model(features, training=False)["masked_lm_log_probs"].numpy()
  logits = out["mlm_logits"]
  assert logits.shape == (3, 4, model.config.vocab_size)
  np.testing.assert_allclose(tf.nn.log_softmax(logits).numpy().reshape(log_probs.shape),
                             log_probs, atol=1e-5)
  np.testing.assert_allclose(out["signature_mlm_logits"], logits, atol=1e-6)


def test_raw_strings_equal_full_tokenizer_and_our_model(exported, fresh_process_outputs,
                                                        sample_vocab):
  model, _, _ = exported
  inputs, out = fresh_process_outputs
  tokenizer = tokenization.FullTokenizer(sample_vocab)
  cls_id, sep_id = tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"]
  packed = [helpers.original_pack(tokenizer.tokenize_to_ids(t), None, 24, cls_id, sep_id)
            for t in _TEXTS]
  ids, mask, types = (np.array(x, np.int32) for x in zip(*packed))
  np.testing.assert_array_equal(out["single_input_word_ids"], ids)
  np.testing.assert_array_equal(out["single_input_mask"], mask)
  np.testing.assert_array_equal(out["single_input_type_ids"], types)
  want = _bert(model, ids, mask, types)
  np.testing.assert_allclose(out["single_sequence_output"], want["sequence_output"], atol=1e-5)
  np.testing.assert_allclose(out["single_pooled_output"], want["pooled_output"], atol=1e-5)
  packed = [helpers.original_pack(tokenizer.tokenize_to_ids(a), tokenizer.tokenize_to_ids(b), 20,
                           cls_id, sep_id) for a, b in _PAIRS]
  ids, mask, types = (np.array(x, np.int32) for x in zip(*packed))
  np.testing.assert_array_equal(out["pair_input_word_ids"], ids)
  np.testing.assert_array_equal(out["pair_input_type_ids"], types)
  np.testing.assert_allclose(out["pair_pooled_output"],
                             _bert(model, ids, mask, types)["pooled_output"], atol=1e-5)
  assert out["default_input_word_ids"].shape == (len(_TEXTS), 32)  # --seq_length=32


def test_vocab_of_another_size_is_an_error(tmp_path, exported, minilm_vocab):
  _, _, directory = exported
  with pytest.raises(UsageError, match="has 30522 tokens but the config's vocab_size is 1042"):
    savedmodel.export_savedmodels(str(directory / "model.ckpt"), str(directory / "bert_config.json"),
                              minilm_vocab, True, str(tmp_path / "out"))
  assert not os.path.exists(str(tmp_path / "out"))
