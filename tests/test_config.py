"""BertConfig: the released files read as they are; configs that can't work are clear errors."""

import glob
import json
import os

import pytest

from bert_mlm.errors import UsageError
from bert_mlm.config import BertConfig, check_vocab_size
from tests import helpers


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(helpers.REPO, "configs", "*.json"))))
def test_shipped_configs(path):
  config = BertConfig.from_json_file(path)
  with open(path) as f:
    assert json.loads(config.to_json_string()) == json.load(f)


def test_defaults_are_the_originals():
  config = BertConfig(vocab_size=10)
  assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
          config.intermediate_size, config.hidden_act, config.type_vocab_size,
          config.max_position_embeddings) == (768, 12, 12, 3072, "gelu", 16, 512)


def test_gelu_exact_is_an_activation_of_ours():
  # The erf GELU, for models trained with it elsewhere; the original's "gelu" stays the tanh form.
  config = BertConfig(vocab_size=10, hidden_act="gelu_exact")
  assert json.loads(config.to_json_string())["hidden_act"] == "gelu_exact"
  from bert_mlm import kernels
  from bert_mlm import modeling  # pylint: disable=g-import-not-at-top
  assert modeling.get_activation("gelu_exact") is kernels.gelu_exact
  assert modeling.get_activation("gelu") is kernels.gelu


def test_unknown_keys_are_a_warning(tmp_path, caplog):
  path = tmp_path / "bert_config.json"
  path.write_text(json.dumps({"vocab_size": 5, "hidden_size": 8, "num_attention_heads": 2,
                              "directionality": "bidi", "pooler_fc_size": 768}))
  with caplog.at_level("WARNING"):
    config = BertConfig.from_json_file(str(path))
  assert config.hidden_size == 8
  assert "directionality" in caplog.text and "pooler_fc_size" in caplog.text


@pytest.mark.parametrize("change, message", [
    (dict(hidden_size=100, num_attention_heads=12), "not a multiple of num_attention_heads"),
    (dict(hidden_act="swish"), "hidden_act 'swish' is not supported"),
    (dict(num_hidden_layers=0), "num_hidden_layers must be a positive integer"),
    (dict(vocab_size=-3), "vocab_size must be a positive integer"),
    (dict(hidden_dropout_prob=1.0), r"hidden_dropout_prob must be in \[0, 1\)"),
])
def test_bad_configs(change, message):
  with pytest.raises(ValueError, match=message):
    BertConfig.from_dict(dict(dict(vocab_size=10, hidden_size=24, num_attention_heads=2), **change))


def test_bad_files(tmp_path):
  with pytest.raises(UsageError, match="missing.json"):
    BertConfig.from_json_file(str(tmp_path / "missing.json"))
  bad = tmp_path / "bad.json"
  bad.write_text("{not json")
  with pytest.raises(ValueError, match="bad.json:1:2: not valid JSON"):
    BertConfig.from_json_file(str(bad))


def test_vocab_size_must_match_vocab_file():
  config = BertConfig.from_json_file(os.path.join(helpers.REPO, "configs", "sample_tiny.json"))
  check_vocab_size(config, os.path.join(helpers.REPO, "sample_data", "vocab.txt"))
  with pytest.raises(ValueError, match="has 1042 tokens but the config's vocab_size is 30522"):
    check_vocab_size(BertConfig(vocab_size=30522),
                     os.path.join(helpers.REPO, "sample_data", "vocab.txt"))


def test_config_and_vocab_from_a_filesystem_with_a_scheme():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with open(os.path.join(helpers.REPO, "configs", "sample_tiny.json")) as f:
    text = f.read()
  with tf.io.gfile.GFile("ram://config-test/bert_config.json", "w") as f:
    f.write(text)
  with open(os.path.join(helpers.REPO, "sample_data", "vocab.txt")) as f:
    vocab = f.read()
  with tf.io.gfile.GFile("ram://config-test/vocab.txt", "w") as f:
    f.write(vocab)
  config = BertConfig.from_json_file("ram://config-test/bert_config.json")
  assert config == BertConfig.from_json_file(
      os.path.join(helpers.REPO, "configs", "sample_tiny.json"))
  check_vocab_size(config, "ram://config-test/vocab.txt")
  with pytest.raises(UsageError, match="BERT config ram://config-test/none.json does not exist"):
    BertConfig.from_json_file("ram://config-test/none.json")
