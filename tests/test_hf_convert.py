"""convert_checkpoint.py: original checkpoints <-> Hugging Face transformers, checked against
transformers' own BERT (5.x, on CPU PyTorch): loading, outputs, tokenizer, exact round trips."""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf
import torch
import transformers

from bert_mlm.storage import checkpoints
from bert_mlm.interop import huggingface
from bert_mlm.interop.huggingface import files as hf_files
from bert_mlm.interop.huggingface import names as hf_names
from bert_mlm import tokenization
from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError
from bert_mlm.model.pretraining_model import BertPretrainingModel
import reference
from tests import helpers

_SMALL = dict(vocab_size=211, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
              intermediate_size=96, hidden_act="gelu", hidden_dropout_prob=0.1,
              attention_probs_dropout_prob=0.1, max_position_embeddings=40, type_vocab_size=2,
              initializer_range=0.2)
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab(size):
  return _SPECIAL + ["w%d" % i for i in range(size - len(_SPECIAL))]


def _write_vocab(path, tokens):
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join(t + "\n" for t in tokens))
  return str(path)


def _randomize(model, seed):
  """Every weight random (biases and LayerNorms too), so that a misplaced one shows."""
  rng = np.random.RandomState(seed)
  for variable in model.weights:
    offset = 1.0 if variable.path.endswith("gamma") else 0.0
    variable.assign(offset + 0.2 * rng.randn(*variable.shape).astype(np.float32))


def _original_checkpoint(directory, config_dict, seed=0, slots=True):
  """A TF1 training checkpoint (random weights, adam slots, global_step), config and vocab."""
  os.makedirs(directory, exist_ok=True)
  config = BertConfig.from_dict(config_dict)
  model = BertPretrainingModel(config)
  _randomize(model, seed)
  variables = model.variables_by_name()
  slot_values = ({name: {"adam_m": tf.ones(v.shape), "adam_v": tf.ones(v.shape) * 2}
                  for name, v in variables.items()} if slots else None)
  prefix = checkpoints.save_checkpoint(
      os.path.join(directory, "model.ckpt-9"),
      checkpoints.model_tensors(variables, global_step=9, slots=slot_values))
  config_file = os.path.join(directory, "bert_config.json")
  with open(config_file, "w") as f:
    f.write(config.to_json_string())
  vocab_file = _write_vocab(os.path.join(directory, "vocab.txt"), _vocab(config.vocab_size))
  return prefix, config_file, vocab_file


def _to_hf(prefix, config_file, vocab_file, output_dir, do_lower_case=True, **kwargs):
  return huggingface.convert(input_checkpoint=prefix, bert_config_file=config_file,
                            vocab_file=vocab_file, do_lower_case=do_lower_case,
                            output_hf_dir=str(output_dir), **kwargs)


def _from_hf(input_dir, prefix, **kwargs):
  return huggingface.convert(input_hf_dir=str(input_dir), output_checkpoint=str(prefix), **kwargs)


def _model_tensors(prefix):
  """{name: array} of a checkpoint without slots and global_step."""
  reader = checkpoints.CheckpointReader(prefix)
  return {name: reader.read(name) for name in reader.shapes
          if name != checkpoints.GLOBAL_STEP and not checkpoints.is_optimizer_slot(name)}


def _assert_bitwise_equal(ours, theirs):
  assert sorted(ours) == sorted(theirs)
  for name in theirs:
    assert ours[name].dtype == theirs[name].dtype, name
    np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def _our_outputs(config_file, prefix, features):
  model = BertPretrainingModel(BertConfig.from_json_file(config_file))
  loaded = checkpoints.load_checkpoint(model.variables_by_name(), prefix)
  assert len(loaded) == len(model.variables_by_name())
  return {k: v.numpy() for k, v in model(features, training=False).items()}


def _transformers_outputs(model, features):
  """BertForPreTraining's outputs in our form: MLM log-probs at the masked positions [B*P, V],
  NSP log-probs [B, 2], sequence output [B, S, H]."""
  model.eval()
  with torch.no_grad():
    out = model(input_ids=torch.from_numpy(features["input_ids"].astype(np.int64)),
                attention_mask=torch.from_numpy(features["input_mask"].astype(np.int64)),
                token_type_ids=torch.from_numpy(features["segment_ids"].astype(np.int64)),
                output_hidden_states=True)
  log_probs = torch.log_softmax(out.prediction_logits, dim=-1).numpy()
  positions = features["masked_lm_positions"].astype(np.int64)[:, :, None]
  return {
      "masked_lm_log_probs": np.take_along_axis(log_probs, positions, axis=1).reshape(
          -1, log_probs.shape[-1]),
      "next_sentence_log_probs": torch.log_softmax(out.seq_relationship_logits, dim=-1).numpy(),
      "sequence_output": out.hidden_states[-1].numpy(),
  }


def _assert_close(ours, theirs, rtol=1e-5):
  """Max error within rtol of the largest |value|, output by output."""
  for name, expected in theirs.items():
    actual = np.asarray(ours[name], np.float64)
    assert actual.shape == expected.shape, name
    scale = max(np.max(np.abs(expected)), 1e-6)
    error = np.max(np.abs(actual - expected)) / scale
    assert error <= rtol, "%s: max error %.3g of max |value| %.3g" % (name, error, scale)


def _load_pretraining(hf_dir, cls=transformers.BertForPreTraining):
  model, info = cls.from_pretrained(str(hf_dir), output_loading_info=True)
  assert not info["missing_keys"] and not info["unexpected_keys"], info
  assert not info["mismatched_keys"] and not info["error_msgs"], info
  return model


def test_weight_table_is_the_models():
  config = BertConfig.from_dict(_SMALL)
  ours = {w.tf_name: w.shape for w in hf_names.weight_table(config)}
  model = BertPretrainingModel(config)
  assert ours == {name: tuple(v.shape) for name, v in model.variables_by_name().items()}


@pytest.mark.parametrize("hidden_act, hf_act", [("gelu", "gelu_new"), ("gelu_exact", "gelu"),
                                                ("relu", "relu")])
def test_original_to_transformers(hidden_act, hf_act, tmp_path):
  config = dict(_SMALL, hidden_act=hidden_act)
  prefix, config_file, vocab_file = _original_checkpoint(str(tmp_path / "tf1"), config)
  summary = _to_hf(prefix, config_file, vocab_file, tmp_path / "hf")
  assert summary["architecture"] == "BertForPreTraining"
  assert checkpoints.GLOBAL_STEP in summary["dropped"] and len(summary["dropped"]) > 100

  hf_dir = tmp_path / "hf"
  assert sorted(os.listdir(hf_dir)) == ["config.json", "model.safetensors", "tokenizer_config.json",
                                        "vocab.txt"]
  with open(hf_dir / "config.json") as f:
    hf_config = json.load(f)
  assert hf_config["model_type"] == "bert" and hf_config["architectures"] == ["BertForPreTraining"]
  assert hf_config["layer_norm_eps"] == 1e-12 and hf_config["hidden_act"] == hf_act
  with safetensors.safe_open(str(hf_dir / "model.safetensors"), "np") as f:
    assert f.metadata() == {"format": "pt"}
    assert all(f.get_tensor(k).dtype == np.float32 for k in f.keys())
    assert not any("decoder" in k or "adam" in k for k in f.keys())

  model = _load_pretraining(hf_dir)
  assert model.config.hidden_act == hf_act and model.dtype == torch.float32
  features = helpers.make_features(config, seed=2)
  _assert_close(_our_outputs(config_file, prefix, features),
                _transformers_outputs(model, features))
  assert isinstance(transformers.AutoTokenizer.from_pretrained(str(hf_dir)),
                    transformers.BertTokenizer)

  # And back: every weight bit for bit, the slots and global_step aside.
  _from_hf(hf_dir, tmp_path / "back" / "bert_model.ckpt")
  _assert_bitwise_equal(_model_tensors(str(tmp_path / "back" / "bert_model.ckpt")),
                        _model_tensors(prefix))
  assert BertConfig.from_json_file(str(tmp_path / "back" / "bert_config.json")) == (
      BertConfig.from_json_file(config_file))
  with open(tmp_path / "back" / "vocab.txt") as a, open(vocab_file) as b:
    assert a.read() == b.read()


@pytest.mark.slow
def test_minilm_original_to_transformers(tmp_path):
  """The real MiniLM encoder the other tests use (a TF1 checkpoint) with random heads."""
  from reference import minilm_checkpoint  # pylint: disable=g-import-not-at-top
  encoder_prefix, config_dict = minilm_checkpoint.convert_minilm(str(tmp_path / "minilm"))
  config_file = str(tmp_path / "minilm" / "bert_config.json")
  model = BertPretrainingModel(BertConfig.from_dict(config_dict))
  checkpoints.load_checkpoint(model.variables_by_name(), encoder_prefix)
  prefix = checkpoints.save_checkpoint(str(tmp_path / "minilm" / "full.ckpt"),
                                       checkpoints.model_tensors(model.variables_by_name()))
  vocab_file = os.path.join(minilm_checkpoint.minilm_model_dir(), "vocab.txt")
  _to_hf(prefix, config_file, vocab_file, tmp_path / "hf")
  features = helpers.make_features(config_dict, batch_size=2, seq_length=32, max_predictions=5,
                                   seed=1)
  _assert_close({k: v.numpy() for k, v in model(features, training=False).items()},
                _transformers_outputs(_load_pretraining(tmp_path / "hf"), features))
  _from_hf(tmp_path / "hf", tmp_path / "back" / "bert_model.ckpt")
  _assert_bitwise_equal(_model_tensors(str(tmp_path / "back" / "bert_model.ckpt")),
                        _model_tensors(prefix))


def _tokenizer_lines():
  """A few hundred lines: the multilingual test text (CJK, accents, Greek, Cyrillic, emoji,
  control characters), the sample corpus, and punctuation and accents mixed into words."""
  with open(reference.MULTILINGUAL_TEXT, encoding="utf-8") as f:
    lines = f.read().split("\n")
  with open(os.path.join(helpers.SAMPLE_DATA, "corpus.txt"), encoding="utf-8") as f:
    lines += [line for line in f.read().split("\n") if line][:300]
  rng = np.random.RandomState(0)
  pieces = ["Naïve", "café", "RÉSUMÉ", "Ångström", "Øresund", "São", "Paulo", "jalapeño",
            "北京大学", "東京", "한국어", "Ελλάδα", "Москва", "don't", "U.S.A.", "(e.g.)", "3.14",
            "$100", "#tag", "@user", "a--b", "...", "«quoted»", "¿qué?", "¡sí!", "x²", "½",
            "naïveté", "coöperate", "ﬁne", "Straße", "e\u0301", "\u00a0", "\t", "😀", "—", "…"]
  for _ in range(100):
    lines.append(" ".join(rng.choice(pieces, rng.randint(2, 9))) +
                 rng.choice(["", ".", "!?", ","]))
  return lines


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_exported_tokenizer_gives_the_full_tokenizers_ids(do_lower_case, tmp_path):
  from reference import original  # pylint: disable=g-import-not-at-top
  vocab_file = original.minilm_vocab_path()
  tokens = list(tokenization.load_vocab(vocab_file))
  for name, text in hf_files.tokenizer_files(tokens, do_lower_case, 512).items():
    (tmp_path / name).write_text(text, encoding="utf-8")
  theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
  ours = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  lines = _tokenizer_lines()
  assert len(lines) > 400
  for line in lines:
    expected = ours.convert_tokens_to_ids(ours.tokenize(line))
    assert theirs(line, add_special_tokens=False)["input_ids"] == expected, repr(line)
  pair = theirs("Hello there.", "Bye!")
  assert pair["input_ids"][0] == ours.vocab["[CLS]"] and pair["token_type_ids"][-1] == 1


def test_tokenizer_differences_the_readme_lists(tmp_path):
  """Where transformers' tokenizer (the `tokenizers` library) departs from FullTokenizer, as the
  README says; if one of these starts to agree, update the README."""
  from reference import original  # pylint: disable=g-import-not-at-top
  vocab_file = original.minilm_vocab_path()
  for name, text in hf_files.tokenizer_files(
      list(tokenization.load_vocab(vocab_file)), True, 512).items():
    (tmp_path / name).write_text(text, encoding="utf-8")
  theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
  ours = tokenization.FullTokenizer(vocab_file, do_lower_case=True)

  def both(text):
    return (ours.tokenize(text),
            theirs.convert_ids_to_tokens(theirs(text, add_special_tokens=False)["input_ids"]))

  # A special token written in the text is that token in transformers, text in the original.
  assert both("a [MASK] b") == (["a", "[", "mask", "]", "b"], ["a", "[MASK]", "b"])
  # Words of 101 to 200 characters: WordPiece pieces in the original, [UNK] in transformers.
  ours_long, theirs_long = both("a" * 150)
  assert ours_long[0] == "aaa" and theirs_long == ["[UNK]"]
  # Private-use characters: kept (then [UNK]) by the original, dropped by transformers.
  assert both("x\ue000y") == (["[UNK]"], ["x", "##y"])
  # Lower-casing a final capital sigma: Python gives the final form, transformers does not.
  assert both("ΟΔΟΣ")[0] != both("ΟΔΟΣ")[1]


def _hf_small_config(**kwargs):
  values = dict(_SMALL, layer_norm_eps=1e-12)
  values.pop("hidden_act")
  values.update(kwargs)
  return transformers.BertConfig(**values)


def _transformers_model(cls, seed=0, **config_kwargs):
  """A transformers model of the small config with every weight random."""
  torch.manual_seed(seed)
  model = cls(_hf_small_config(**config_kwargs))
  with torch.no_grad():
    for parameter in model.parameters():
      parameter.add_(0.2 * torch.randn_like(parameter))
  return model.eval()


def _save_transformers(model, directory, tokenizer=True, do_lower_case=False):
  model.save_pretrained(str(directory))
  if tokenizer:  # transformers 5 saves tokenizer.json (no vocab.txt)
    vocab = {token: i for i, token in enumerate(_vocab(model.config.vocab_size))}
    transformers.BertTokenizer(vocab=vocab, do_lower_case=do_lower_case).save_pretrained(
        str(directory))


def _read_safetensors(path):
  return safetensors.numpy.load_file(str(path))


def test_model_saved_by_transformers_to_original(tmp_path):
  """transformers' own BertForPreTraining (hidden_act "gelu", the exact erf form) computes the
  same in our model after conversion; and HF -> TF1 -> HF gives back every bit."""
  theirs = _transformers_model(transformers.BertForPreTraining)
  _save_transformers(theirs, tmp_path / "hf")
  assert "vocab.txt" not in os.listdir(tmp_path / "hf")
  prefix = str(tmp_path / "tf1" / "bert_model.ckpt")
  summary = _from_hf(tmp_path / "hf", prefix)
  assert summary == dict(summary, architecture="BertForPreTraining", missing=[],
                         hidden_act="gelu_exact", do_lower_case=False)
  config_file = str(tmp_path / "tf1" / "bert_config.json")
  assert BertConfig.from_json_file(config_file).hidden_act == "gelu_exact"
  assert list(tokenization.load_vocab(str(tmp_path / "tf1" / "vocab.txt"))) == _vocab(211)

  features = helpers.make_features(_SMALL, seed=4)
  _assert_close(_our_outputs(config_file, prefix, features),
                _transformers_outputs(theirs, features))

  _to_hf(prefix, config_file, str(tmp_path / "tf1" / "vocab.txt"), tmp_path / "hf2",
         do_lower_case=False)
  _assert_bitwise_equal(_read_safetensors(tmp_path / "hf2" / "model.safetensors"),
                        _read_safetensors(tmp_path / "hf" / "model.safetensors"))
  with open(tmp_path / "hf2" / "config.json") as f:
    assert json.load(f)["hidden_act"] == "gelu"
  _load_pretraining(tmp_path / "hf2")


@pytest.mark.parametrize("cls, missing_scopes", [
    (transformers.BertForMaskedLM, {"bert/pooler/dense", "cls/seq_relationship"}),
    (transformers.BertModel, {"cls/predictions", "cls/predictions/transform/dense",
                              "cls/predictions/transform/LayerNorm", "cls/seq_relationship"}),
])
def test_masked_lm_and_bare_model_directories(cls, missing_scopes, tmp_path, caplog):
  """What the directory lacks is left to init_checkpoint's rule; the way back is exact."""
  theirs = _transformers_model(cls, seed=1, hidden_act="gelu_new")
  _save_transformers(theirs, tmp_path / "hf", tokenizer=False)
  prefix = str(tmp_path / "tf1" / "bert_model.ckpt")
  with caplog.at_level(logging.INFO, logger="absl"):
    summary = _from_hf(tmp_path / "hf", prefix)
  assert summary["architecture"] == cls.__name__
  assert {name.rsplit("/", 1)[0] for name in summary["missing"]} == missing_scopes
  assert "left to --init_checkpoint" in caplog.text and "no vocab.txt written" in caplog.text
  assert not os.path.exists(tmp_path / "tf1" / "vocab.txt")

  config_file = str(tmp_path / "tf1" / "bert_config.json")
  model = BertPretrainingModel(BertConfig.from_json_file(config_file))
  loaded = checkpoints.load_checkpoint(model.variables_by_name(), prefix)
  assert set(model.variables_by_name()) - set(loaded) == set(summary["missing"])
  if cls is transformers.BertModel:
    features = helpers.make_features(_SMALL, seed=6)
    with torch.no_grad():
      expected = theirs(input_ids=torch.from_numpy(features["input_ids"].astype(np.int64)),
                        attention_mask=torch.from_numpy(features["input_mask"].astype(np.int64)),
                        token_type_ids=torch.from_numpy(features["segment_ids"].astype(np.int64)))
    ours = model.bert(features["input_ids"], features["input_mask"], features["segment_ids"])
    _assert_close({k: ours[k].numpy() for k in ("sequence_output", "pooled_output")},
                  {"sequence_output": expected.last_hidden_state.numpy(),
                   "pooled_output": expected.pooler_output.numpy()})

  vocab_file = _write_vocab(tmp_path / "vocab.txt", _vocab(211))
  _to_hf(prefix, config_file, vocab_file, tmp_path / "hf2")
  _assert_bitwise_equal(_read_safetensors(tmp_path / "hf2" / "model.safetensors"),
                        _read_safetensors(tmp_path / "hf" / "model.safetensors"))
  _load_pretraining(tmp_path / "hf2", cls)


def test_encoder_without_pooler(tmp_path):
  """Any parts make an init checkpoint; the way back needs a transformers class that holds them."""
  _save_transformers(transformers.BertModel(_hf_small_config(), add_pooling_layer=False),
                     tmp_path / "hf", tokenizer=False)
  prefix = str(tmp_path / "tf1" / "bert_model.ckpt")
  summary = _from_hf(tmp_path / "hf", prefix)
  assert summary["architecture"] == "BERT encoder"
  assert "bert/pooler/dense/kernel" in summary["missing"]
  with pytest.raises(UsageError, match="holds the encoder with neither pooler nor heads: no "
                                       "transformers BERT class holds exactly that"):
    _to_hf(prefix, str(tmp_path / "tf1" / "bert_config.json"),
           _write_vocab(tmp_path / "vocab.txt", _vocab(211)), tmp_path / "hf2")
  assert not os.path.exists(tmp_path / "hf2")


@pytest.mark.slow
def test_minilm_hub_directory_to_original(tmp_path):
  """A real Hub directory (all-MiniLM-L6-v2: BertModel, exact "gelu", a position_ids buffer,
  vocab.txt and tokenizer.json): our encoder computes transformers' outputs on it."""
  from reference import minilm_checkpoint  # pylint: disable=g-import-not-at-top
  hub_dir = minilm_checkpoint.minilm_model_dir()
  prefix = str(tmp_path / "bert_model.ckpt")
  summary = _from_hf(hub_dir, prefix)
  assert summary["architecture"] == "BertModel" and summary["hidden_act"] == "gelu_exact"
  assert summary["do_lower_case"] is True
  config = BertConfig.from_json_file(str(tmp_path / "bert_config.json"))
  model = BertPretrainingModel(config)
  checkpoints.load_checkpoint(model.variables_by_name(), prefix)
  features = helpers.make_features(config.to_dict(), batch_size=2, seq_length=32, max_predictions=5,
                                   seed=1)
  ours = model.bert(features["input_ids"], features["input_mask"], features["segment_ids"])
  theirs = transformers.BertModel.from_pretrained(hub_dir).eval()
  with torch.no_grad():
    expected = theirs(input_ids=torch.from_numpy(features["input_ids"].astype(np.int64)),
                      attention_mask=torch.from_numpy(features["input_mask"].astype(np.int64)),
                      token_type_ids=torch.from_numpy(features["segment_ids"].astype(np.int64)))
  _assert_close({k: ours[k].numpy() for k in ("sequence_output", "pooled_output")},
                {"sequence_output": expected.last_hidden_state.numpy(),
                 "pooled_output": expected.pooler_output.numpy()})
  with open(tmp_path / "vocab.txt") as a, open(os.path.join(hub_dir, "vocab.txt")) as b:
    assert a.read() == b.read()


def test_pytorch_bin_needs_torch_and_reads_the_same(tmp_path, monkeypatch):
  theirs = _transformers_model(transformers.BertForPreTraining, seed=2)
  _save_transformers(theirs, tmp_path / "st", tokenizer=False)
  os.makedirs(tmp_path / "bin")
  theirs.config.save_pretrained(str(tmp_path / "bin"))
  # The whole state dict, tied decoder included, as older transformers pickled it.
  torch.save(theirs.state_dict(), str(tmp_path / "bin" / "pytorch_model.bin"))
  _from_hf(tmp_path / "st", tmp_path / "a" / "bert_model.ckpt")
  _from_hf(tmp_path / "bin", tmp_path / "b" / "bert_model.ckpt")
  _assert_bitwise_equal(_model_tensors(str(tmp_path / "b" / "bert_model.ckpt")),
                        _model_tensors(str(tmp_path / "a" / "bert_model.ckpt")))
  monkeypatch.setattr(hf_files, "_torch_available", lambda: False)
  with pytest.raises(UsageError, match="pytorch_model.bin is a PyTorch pickle, which needs "
                                       "torch to read: install torch"):
    _from_hf(tmp_path / "bin", tmp_path / "c" / "bert_model.ckpt")
  assert not os.path.exists(tmp_path / "c")


@pytest.mark.slow
def test_pretraining_continues_from_a_transformers_model(tmp_path):
  """run_pretraining --init_checkpoint on a converted BertForMaskedLM (exact "gelu", no pooler,
  no next sentence head): its first step's masked LM loss is transformers' on that batch."""
  from bert_mlm.training import loop  # pylint: disable=g-import-not-at-top
  theirs = _transformers_model(transformers.BertForMaskedLM, seed=3, hidden_dropout_prob=0.0,
                               attention_probs_dropout_prob=0.0)
  _save_transformers(theirs, tmp_path / "hf")
  prefix = str(tmp_path / "tf1" / "bert_model.ckpt")
  _from_hf(tmp_path / "hf", prefix)
  batches = [helpers.make_features(_SMALL, batch_size=4, seq_length=24, max_predictions=4, seed=s)
             for s in range(2)]
  options = loop.PretrainingOptions(
      bert_config=BertConfig.from_json_file(str(tmp_path / "tf1" / "bert_config.json")),
      input_files=[helpers.write_records(str(tmp_path / "train.tfrecord"), batches)],
      output_dir=str(tmp_path / "out"), init_checkpoint=prefix, max_seq_length=24,
      max_predictions_per_seq=4, do_train=True, train_batch_size=4, learning_rate=1e-3,
      num_train_steps=2, num_warmup_steps=0, save_checkpoints_steps=2, iterations_per_loop=1,
      train_shuffle=False)
  history, _ = loop.run_pretraining(options, tf.distribute.OneDeviceStrategy("/cpu:0"))

  first = batches[0]
  labels = np.full(first["input_ids"].shape, -100, np.int64)
  for row, (positions, ids, weights) in enumerate(zip(
      first["masked_lm_positions"], first["masked_lm_ids"], first["masked_lm_weights"])):
    labels[row, positions[weights > 0]] = ids[weights > 0]
  with torch.no_grad():
    expected = theirs(input_ids=torch.from_numpy(first["input_ids"].astype(np.int64)),
                      attention_mask=torch.from_numpy(first["input_mask"].astype(np.int64)),
                      token_type_ids=torch.from_numpy(first["segment_ids"].astype(np.int64)),
                      labels=torch.from_numpy(labels)).loss.item()
  # The original adds 1e-5 to the weight sum (~1e-6 relative here).
  np.testing.assert_allclose(history["masked_lm_loss"][0], expected, rtol=1e-5)
  assert np.all(np.isfinite(helpers.history_table(history))) and os.path.exists(
      tmp_path / "out" / "model.ckpt-2.index")


def test_sharded_and_half_precision_weights(small, tmp_path):
  """A sharded safetensors model, and float16 and bfloat16 weights, each widened exactly."""
  tensors = _read_safetensors(small["hf_dir"] / "model.safetensors")
  original = _model_tensors(small["prefix"])
  names = sorted(tensors)
  shards = {"model-00001-of-00002.safetensors": names[:25],
            "model-00002-of-00002.safetensors": names[25:]}
  sharded = _copy_hf_dir(small, tmp_path / "sharded")
  os.remove(sharded / "model.safetensors")
  for shard, keys in shards.items():
    safetensors.numpy.save_file({k: tensors[k] for k in keys}, str(sharded / shard),
                                metadata={"format": "pt"})
  (sharded / "model.safetensors.index.json").write_text(json.dumps(
      {"metadata": {}, "weight_map": {k: shard for shard, keys in shards.items() for k in keys}}))
  _from_hf(sharded, tmp_path / "a" / "bert_model.ckpt")
  _assert_bitwise_equal(_model_tensors(str(tmp_path / "a" / "bert_model.ckpt")), original)

  half = _copy_hf_dir(small, tmp_path / "half")
  safetensors.numpy.save_file({k: v.astype(np.float16) for k, v in tensors.items()},
                              str(half / "model.safetensors"))
  _from_hf(half, tmp_path / "b" / "bert_model.ckpt")
  _assert_bitwise_equal(_model_tensors(str(tmp_path / "b" / "bert_model.ckpt")),
                        {k: v.astype(np.float16).astype(np.float32) for k, v in original.items()})

  from safetensors import torch as safetensors_torch  # pylint: disable=g-import-not-at-top
  bf16 = _copy_hf_dir(small, tmp_path / "bf16")
  safetensors_torch.save_file({k: torch.from_numpy(v).to(torch.bfloat16)
                               for k, v in tensors.items()}, str(bf16 / "model.safetensors"))
  _from_hf(bf16, tmp_path / "c" / "bert_model.ckpt")
  _assert_bitwise_equal(
      _model_tensors(str(tmp_path / "c" / "bert_model.ckpt")),
      {k: torch.from_numpy(v).to(torch.bfloat16).float().numpy() for k, v in original.items()})


@pytest.fixture(scope="module")
def small(tmp_path_factory):
  """A small TF1 checkpoint and its transformers directory, for the error cases."""
  base = tmp_path_factory.mktemp("small")
  prefix, config_file, vocab_file = _original_checkpoint(str(base / "tf1"), _SMALL, slots=False)
  _to_hf(prefix, config_file, vocab_file, base / "hf")
  return dict(base=base, prefix=prefix, config_file=config_file, vocab_file=vocab_file,
              hf_dir=base / "hf")


def _copy_hf_dir(small, directory, config_changes=None, files=None):
  """A copy of the small transformers directory, with config.json keys or files replaced."""
  os.makedirs(directory)
  for name in os.listdir(small["hf_dir"]):
    with open(small["hf_dir"] / name, "rb") as f:
      data = f.read()
    if name == "config.json" and config_changes:
      data = json.dumps(dict(json.loads(data), **config_changes)).encode()
    (directory / name).write_bytes((files or {}).get(name, data))
  return directory


@pytest.mark.parametrize("config_changes, message", [
    (dict(model_type="roberta"), "model_type is 'roberta', not \"bert\""),
    (dict(hidden_act="silu"), "hidden_act 'silu' can't be computed here; supported: gelu and "
                              "gelu_python"),
    (dict(layer_norm_eps=1e-5), "layer_norm_eps is 1e-05; the original's LayerNorm uses 1e-12"),
    (dict(intermediate_size=64), r"model.safetensors: bert.encoder.layer.0.intermediate.dense."
                                 r"weight has shape \[96, 48\] but .*config.json gives it "
                                 r"\[64, 48\]"),
    (dict(num_hidden_layers=2), r"model.safetensors: 16 tensors are not BERT's "
                                r"\(bert.encoder.layer.2.attention"),
    (dict(is_decoder=True), "is_decoder is set"),
])
def test_bad_transformers_configs(small, config_changes, message, tmp_path):
  hf_dir = _copy_hf_dir(small, tmp_path / "hf", config_changes)
  with pytest.raises(UsageError, match=message):
    _from_hf(hf_dir, tmp_path / "out" / "bert_model.ckpt")
  assert not os.path.exists(tmp_path / "out")


def test_bad_transformers_files(small, tmp_path):
  out = tmp_path / "out" / "bert_model.ckpt"
  with open(small["hf_dir"] / "model.safetensors", "rb") as f:
    data = f.read()
  cases = [
      ({"model.safetensors": data[:len(data) // 2]},
       "model.safetensors is not a complete safetensors file \\(truncated or corrupt\\?\\)"),
      ({"vocab.txt": "".join(t + "\n" for t in _vocab(200)).encode()},
       "vocab.txt has 200 tokens but the word embedding table of .*model.safetensors has 211 "
       "rows"),
  ]
  for i, (files, message) in enumerate(cases):
    hf_dir = _copy_hf_dir(small, tmp_path / ("hf%d" % i), files=files)
    with pytest.raises(UsageError, match=message):
      _from_hf(hf_dir, out)
  # Not a model directory at all, and a classifier's extra tensors.
  with pytest.raises(UsageError, match="is not a transformers model directory"):
    _from_hf(tmp_path, out)
  tensors = _read_safetensors(small["hf_dir"] / "model.safetensors")
  tensors["classifier.weight"] = np.zeros((3, 48), np.float32)
  hf_dir = _copy_hf_dir(small, tmp_path / "classifier")
  safetensors.numpy.save_file(tensors, str(hf_dir / "model.safetensors"))
  with pytest.raises(UsageError, match=r"1 tensors are not BERT's \(classifier.weight\)"):
    _from_hf(hf_dir, out)
  # Untied output embeddings can't be the original's.
  tensors = _read_safetensors(small["hf_dir"] / "model.safetensors")
  tensors["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"] + 1
  hf_dir = _copy_hf_dir(small, tmp_path / "untied", dict(tie_word_embeddings=False))
  safetensors.numpy.save_file(tensors, str(hf_dir / "model.safetensors"))
  with pytest.raises(UsageError, match="decoder.weight differs from bert/embeddings/word_emb"):
    _from_hf(hf_dir, out)
  assert not os.path.exists(tmp_path / "out")


def test_bad_original_inputs(small, tmp_path):
  out = tmp_path / "hf"
  short_vocab = _write_vocab(tmp_path / "short.txt", _vocab(200))
  with pytest.raises(UsageError, match="short.txt has 200 tokens but the word embedding table of "
                                       "checkpoint .* has 211 rows"):
    _to_hf(small["prefix"], small["config_file"], short_vocab, out)
  other = tmp_path / "bert_config.json"
  other.write_text(json.dumps(dict(_SMALL, intermediate_size=64)))
  with pytest.raises(UsageError, match=r"intermediate/dense/kernel has shape \[48, 96\] but "
                                       r".*bert_config.json gives it \[48, 64\]"):
    _to_hf(small["prefix"], str(other), small["vocab_file"], out)
  with pytest.raises(UsageError, match="--do_lower_case is required"):
    _to_hf(small["prefix"], small["config_file"], small["vocab_file"], out, do_lower_case=None)
  with pytest.raises(UsageError, match="Checkpoint .* does not exist"):
    _to_hf(str(tmp_path / "missing.ckpt"), small["config_file"], small["vocab_file"], out)
  # A fine-tuned classifier's variables are not the pretraining model's.
  tensors = _model_tensors(small["prefix"])
  tensors["output_weights"] = np.zeros((3, 48), np.float32)
  classifier = checkpoints.save_checkpoint(str(tmp_path / "classifier.ckpt"), tensors)
  with pytest.raises(UsageError, match=r"1 variables are not BERT's pretraining model with 3 "
                                       r"layers \(output_weights\)"):
    _to_hf(classifier, small["config_file"], small["vocab_file"], out)
  # Half a head.
  del tensors["output_weights"], tensors["cls/seq_relationship/output_bias"]
  partial = checkpoints.save_checkpoint(str(tmp_path / "partial.ckpt"), tensors)
  with pytest.raises(UsageError, match="the next_sentence weights are incomplete: 1 of 2 missing"):
    _to_hf(partial, small["config_file"], small["vocab_file"], out)
  assert not os.path.exists(out)


def test_existing_outputs_need_overwrite(small, tmp_path):
  out = tmp_path / "hf"
  os.makedirs(out)
  (out / "README.md").write_text("model card")
  (out / "tokenizer.json").write_text("{}")  # stale: transformers would read it, not vocab.txt
  with pytest.raises(UsageError, match="--output_hf_dir=.* exists and is not empty; pass "
                                       "--overwrite"):
    _to_hf(small["prefix"], small["config_file"], small["vocab_file"], out)
  assert sorted(os.listdir(out)) == ["README.md", "tokenizer.json"]
  _to_hf(small["prefix"], small["config_file"], small["vocab_file"], out, overwrite=True)
  assert sorted(os.listdir(out)) == ["README.md", "config.json", "model.safetensors",
                                     "tokenizer_config.json", "vocab.txt"]
  assert [p for p in os.listdir(tmp_path) if "incomplete" in p] == []
  _load_pretraining(out)
  # An empty directory is simply filled.
  os.makedirs(tmp_path / "empty")
  _to_hf(small["prefix"], small["config_file"], small["vocab_file"], tmp_path / "empty")

  prefix = tmp_path / "tf1" / "bert_model.ckpt"
  _from_hf(out, prefix)
  with pytest.raises(UsageError, match="bert_model.ckpt.index, .* already exists; pass "
                                       "--overwrite"):
    _from_hf(out, prefix)
  _from_hf(out, prefix, overwrite=True)


def test_directions_are_exclusive():
  with pytest.raises(UsageError, match="The two directions' flags are mixed "
                                       r"\(--input_checkpoint with --output_checkpoint\)"):
    huggingface.convert(input_checkpoint="a", output_checkpoint="b")
  with pytest.raises(UsageError, match="Missing --bert_config_file, --output_hf_dir, "
                                       "--vocab_file: give either"):
    huggingface.convert(input_checkpoint="a", do_lower_case=True)
  with pytest.raises(UsageError, match="Nothing to convert"):
    huggingface.convert()


@pytest.mark.slow
def test_command_line(small, tmp_path):
  script = os.path.join(helpers.REPO, "convert_checkpoint.py")
  mixed = subprocess.run([sys.executable, script, "--input_hf_dir=x", "--vocab_file=v"],
                         capture_output=True, text=True)
  assert mixed.returncode == 1
  assert mixed.stderr.strip().splitlines()[-1].startswith(
      "convert_checkpoint.py: error: The two directions' flags are mixed")
  prefix = str(tmp_path / "tf1" / "bert_model.ckpt")
  subprocess.run([sys.executable, script, "--input_hf_dir=%s" % small["hf_dir"],
                  "--output_checkpoint=" + prefix], check=True, capture_output=True)
  _assert_bitwise_equal(_model_tensors(prefix), _model_tensors(small["prefix"]))


def test_transformers_directories_on_a_remote_filesystem(small, tmp_path):
  """Both directions with every path on ram:// (reached, like gs://, only through tf.io.gfile):
  the same bytes as the local conversion, and --overwrite removes a shadowing file there too."""
  remote = "ram://hf_convert_%d" % os.getpid()
  for name in ("model.ckpt-9.index", "model.ckpt-9.data-00000-of-00001", "bert_config.json",
               "vocab.txt"):
    tf.io.gfile.copy(os.path.join(os.path.dirname(small["prefix"]), name),
                     remote + "/tf1/" + name, overwrite=True)
  _to_hf(remote + "/tf1/model.ckpt-9", remote + "/tf1/bert_config.json",
         remote + "/tf1/vocab.txt", remote + "/hf")
  for name in os.listdir(small["hf_dir"]):
    with open(small["hf_dir"] / name, "rb") as f, \
        tf.io.gfile.GFile(remote + "/hf/" + name, "rb") as g:
      assert f.read() == g.read(), name
  assert sorted(tf.io.gfile.listdir(remote + "/hf")) == sorted(os.listdir(small["hf_dir"]))

  _from_hf(remote + "/hf", remote + "/back/bert_model.ckpt")
  _assert_bitwise_equal(_model_tensors(remote + "/back/bert_model.ckpt"),
                        _model_tensors(small["prefix"]))
  assert tf.io.gfile.exists(remote + "/back/bert_config.json")
  assert tf.io.gfile.exists(remote + "/back/vocab.txt")

  with tf.io.gfile.GFile(remote + "/hf/pytorch_model.bin", "wb") as f:
    f.write(b"stale")
  with pytest.raises(UsageError, match="exists and is not empty; pass --overwrite"):
    _to_hf(small["prefix"], small["config_file"], small["vocab_file"], remote + "/hf")
  _to_hf(small["prefix"], small["config_file"], small["vocab_file"], remote + "/hf",
         overwrite=True)
  assert sorted(tf.io.gfile.listdir(remote + "/hf")) == sorted(os.listdir(small["hf_dir"]))
  assert not os.path.exists("ram:")  # no local directory named after the URL
