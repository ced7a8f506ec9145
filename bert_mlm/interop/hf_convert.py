"""Checkpoints between the original's TF1 format and Hugging Face transformers' BERT, both ways.

transformers 5 dropped its TensorFlow code, and with it the two functions that moved weights
between the original BERT's checkpoints and its PyTorch models. This module is that bridge,
exact and without PyTorch: weights go through numpy and the `safetensors` package.

  original (TF1)                                  transformers (BertForPreTraining state dict)
  bert/embeddings/word_embeddings        [V, H]   bert.embeddings.word_embeddings.weight  [V, H]
  bert/embeddings/LayerNorm/gamma, beta  [H]      bert.embeddings.LayerNorm.weight, bias  [H]
  bert/encoder/layer_<i>/.../kernel      [in,out] bert.encoder.layer.<i>/....weight        [out,in]
  bert/pooler/dense/{kernel, bias}                bert.pooler.dense.{weight, bias}
  cls/predictions/transform/...                   cls.predictions.transform....
  cls/predictions/output_bias            [V]      cls.predictions.bias                    [V]
  (output weights tied to the embeddings)         cls.predictions.decoder.*: tied, not stored
  cls/seq_relationship/output_weights    [2, H]   cls.seq_relationship.weight             [2, H]
  cls/seq_relationship/output_bias       [2]      cls.seq_relationship.bias               [2]

Dense kernels are transposed (Keras and TF1 store [in, out], torch.nn.Linear [out, in]);
`output_weights` is not: the original already stores it [2, H] and multiplies by its transpose.
Every value is copied, never recomputed, so both round trips give back every bit.

What a checkpoint holds decides the transformers class it becomes (and back):
  pooler + masked LM + next sentence heads   BertForPreTraining (what the original's
                                             run_pretraining.py and Google's releases hold)
  masked LM head, no pooler                  BertForMaskedLM
  next sentence head + pooler                BertForNextSentencePrediction
  pooler, no heads                           BertModel (names without the "bert." prefix)

The activation (see `TO_HF_ACTIVATION`): the original's "gelu" is the tanh approximation, which
transformers calls "gelu_new"; transformers' "gelu" is the exact erf form, which the original
does not have and becomes our "gelu_exact" (`config.py`). Activations neither side can compute
the same are refused, never replaced.

Reading and writing TF1 checkpoints goes through `checkpoints` (TensorFlow, imported there);
the rest (name map, config and tokenizer files, safetensors) needs only numpy. Every path may be
a `gs://` URL (any `tf.io.gfile` filesystem), the transformers directories too.
"""

import collections
import importlib.util
import io
import json
import os

from absl import logging
# Imported for its side effect too: it gives numpy the "bfloat16" dtype, which safetensors'
# numpy API then reads (a dependency of TensorFlow, so always installed with it).
import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from bert_mlm.storage import atomic
from bert_mlm.storage import file_io
from bert_mlm import tokenization
from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError

# Files of a transformers model directory.
HF_CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"
PYTORCH_BIN_INDEX = "pytorch_model.bin.index.json"
VOCAB = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
TOKENIZER_JSON = "tokenizer.json"
# Beside a TF1 checkpoint, as in Google's released models.
BERT_CONFIG = "bert_config.json"

# Files that transformers reads from a model directory in preference to, or together with,
# what this module writes there. `--overwrite` removes them, so that the directory loads exactly
# the converted model (a stale tokenizer.json would replace the vocabulary, a stale index its
# weights). Other files (a README, a model card) are left alone.
_HF_SHADOWING_FILES = (SAFETENSORS_INDEX, PYTORCH_BIN, PYTORCH_BIN_INDEX, TOKENIZER_JSON,
                       "special_tokens_map.json", "added_tokens.json", "tf_model.h5",
                       "flax_model.msgpack")

# The original pads with id 0 and uses the epsilon 1e-12 in every LayerNorm.
_PAD_ID = 0
LAYER_NORM_EPSILON = 1e-12

# Our hidden_act -> transformers' name of the same function.
TO_HF_ACTIVATION = {
    "gelu": "gelu_new",  # the original's tanh approximation
    "gelu_exact": "gelu",  # the exact erf form (ours, not the original's)
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}
# transformers' hidden_act -> ours. Each tanh-form name computes
# x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), each erf-form name x/2 (1 + erf(x / sqrt(2))),
# up to float32 round-off (gelu_fast writes sqrt(2/pi) as 0.7978845608, the same float32).
FROM_HF_ACTIVATION = {
    "gelu_new": "gelu", "gelu_pytorch_tanh": "gelu", "gelu_python_tanh": "gelu",
    "gelu_fast": "gelu", "gelu_accurate": "gelu",
    "gelu": "gelu_exact", "gelu_python": "gelu_exact",
    "relu": "relu", "tanh": "tanh", "linear": "linear",
}
# transformers' BertConfig defaults, for keys a config.json leaves out (type_vocab_size is 2
# there, 16 in the original's BertConfig).
_HF_DEFAULTS = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                    attention_probs_dropout_prob=0.1, max_position_embeddings=512,
                    type_vocab_size=2, initializer_range=0.02)

# The parts of a pretraining checkpoint; each is all there or all absent.
ENCODER = "encoder"
POOLER = "pooler"
MASKED_LM = "masked_lm"
NEXT_SENTENCE = "next_sentence"
_ARCHITECTURES = {
    frozenset([POOLER, MASKED_LM, NEXT_SENTENCE]): "BertForPreTraining",
    frozenset([MASKED_LM]): "BertForMaskedLM",
    frozenset([POOLER, NEXT_SENTENCE]): "BertForNextSentencePrediction",
    frozenset([POOLER]): "BertModel",
}
# transformers' BertModel names its weights without this prefix (from one of its modules);
# every other class with it.
_BERT_PREFIX = "bert."
_BERT_MODULES = ("embeddings.", "encoder.", "pooler.")
# Buffers that transformers may store (older versions did): derived from the config, not weights.
_HF_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
_TIED_DECODER_WEIGHT = "cls.predictions.decoder.weight"
_TIED_DECODER_BIAS = "cls.predictions.decoder.bias"

# One weight: its TF1 name and shape, its transformers name (as in BertForPreTraining), whether
# the layouts are transposes of each other, and the part it belongs to.
Weight = collections.namedtuple("Weight", ["tf_name", "hf_name", "shape", "transpose", "part"])


def weight_table(config):
  """Every weight of the original's pretraining model for `config`, as a list of `Weight`.

  The same names and shapes as `BertPretrainingModel(config).variables_by_name()` (tested).
  """
  h, v = config.hidden_size, config.vocab_size
  table = []

  def dense(tf_scope, hf_scope, part, inputs, outputs):
    table.append(Weight(tf_scope + "/kernel", hf_scope + ".weight", (inputs, outputs), True, part))
    table.append(Weight(tf_scope + "/bias", hf_scope + ".bias", (outputs,), False, part))

  def layer_norm(tf_scope, hf_scope, part):
    table.append(Weight(tf_scope + "/gamma", hf_scope + ".weight", (h,), False, part))
    table.append(Weight(tf_scope + "/beta", hf_scope + ".bias", (h,), False, part))

  for name, rows in (("word_embeddings", v), ("token_type_embeddings", config.type_vocab_size),
                     ("position_embeddings", config.max_position_embeddings)):
    table.append(Weight("bert/embeddings/" + name, "bert.embeddings.%s.weight" % name, (rows, h),
                        False, ENCODER))
  layer_norm("bert/embeddings/LayerNorm", "bert.embeddings.LayerNorm", ENCODER)
  for i in range(config.num_hidden_layers):
    tf_layer, hf_layer = "bert/encoder/layer_%d/" % i, "bert.encoder.layer.%d." % i
    for projection in ("query", "key", "value"):
      dense(tf_layer + "attention/self/" + projection, hf_layer + "attention.self." + projection,
            ENCODER, h, h)
    dense(tf_layer + "attention/output/dense", hf_layer + "attention.output.dense", ENCODER, h, h)
    layer_norm(tf_layer + "attention/output/LayerNorm", hf_layer + "attention.output.LayerNorm",
               ENCODER)
    dense(tf_layer + "intermediate/dense", hf_layer + "intermediate.dense", ENCODER, h,
          config.intermediate_size)
    dense(tf_layer + "output/dense", hf_layer + "output.dense", ENCODER,
          config.intermediate_size, h)
    layer_norm(tf_layer + "output/LayerNorm", hf_layer + "output.LayerNorm", ENCODER)
  dense("bert/pooler/dense", "bert.pooler.dense", POOLER, h, h)
  dense("cls/predictions/transform/dense", "cls.predictions.transform.dense", MASKED_LM, h, h)
  layer_norm("cls/predictions/transform/LayerNorm", "cls.predictions.transform.LayerNorm",
             MASKED_LM)
  table.append(Weight("cls/predictions/output_bias", "cls.predictions.bias", (v,), False,
                      MASKED_LM))
  table.append(Weight("cls/seq_relationship/output_weights", "cls.seq_relationship.weight",
                      (2, h), False, NEXT_SENTENCE))
  table.append(Weight("cls/seq_relationship/output_bias", "cls.seq_relationship.bias", (2,),
                      False, NEXT_SENTENCE))
  return table


def _hf_shape(weight):
  return tuple(reversed(weight.shape)) if weight.transpose else weight.shape


def _parts(present, table, source):
  """The parts whose weights are all in `present` (TF1 names).

  Raises UsageError for a part that is there in part, or no encoder.
  """
  by_part = collections.defaultdict(list)
  for weight in table:
    by_part[weight.part].append(weight.tf_name)
  parts = set()
  for part, names in by_part.items():
    found = [name for name in names if name in present]
    if len(found) == len(names):
      parts.add(part)
    elif found:
      missing = [name for name in names if name not in present]
      raise UsageError("%s: the %s weights are incomplete: %d of %d missing (e.g. %s)."
                       % (source, part, len(missing), len(names), ", ".join(missing[:3])))
  if ENCODER not in parts:
    raise UsageError("%s holds no BERT encoder (no %s)." % (source, table[0].tf_name))
  return parts


def _architecture(parts, source):
  """The transformers class that holds exactly `parts`; raises UsageError if none does."""
  architecture = _ARCHITECTURES.get(frozenset(parts - {ENCODER}))
  if architecture is None:
    raise UsageError(
        "%s holds the encoder with %s: no transformers BERT class holds exactly that "
        "(BertForPreTraining: pooler and both heads; BertForMaskedLM: the masked LM head, no "
        "pooler; BertForNextSentencePrediction: pooler and next sentence head; BertModel: pooler)."
        % (source, ", ".join(sorted(parts - {ENCODER})) or "neither pooler nor heads"))
  return architecture


def _check_shapes(found, table, weights_source, config_source, hf_layout):
  """Raises UsageError when a weight's shape differs from what the config gives it."""
  for weight in table:
    if weight.tf_name not in found:
      continue
    expected = _hf_shape(weight) if hf_layout else weight.shape
    actual = tuple(found[weight.tf_name])
    if actual != expected:
      name = weight.hf_name if hf_layout else weight.tf_name
      raise UsageError("%s: %s has shape %s but %s gives it %s (the config of another model?)."
                       % (weights_source, name, list(actual), config_source, list(expected)))


def _check_vocab_rows(vocab_size, vocab_source, rows, weights_source):
  if vocab_size != rows:
    raise UsageError("The vocabulary %s has %d tokens but the word embedding table of %s has %d "
                     "rows." % (vocab_source, vocab_size, weights_source, rows))


def _as_float32(name, value, source):
  value = np.asarray(value)
  if not (np.issubdtype(value.dtype, np.floating) or value.dtype == ml_dtypes.bfloat16):
    raise UsageError("%s: %s is %s, not a floating-point weight." % (source, name, value.dtype))
  if value.dtype == np.float64:
    logging.warning("%s: %s is float64; rounded to float32.", source, name)
  # float16 and bfloat16 -> float32 are exact.
  return value.astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# Configs and tokenizer files.


def hf_config_dict(config, architecture):
  """transformers' config.json for our `BertConfig` and the class the weights fill."""
  return {
      "architectures": [architecture],
      "model_type": "bert",
      "vocab_size": config.vocab_size,
      "hidden_size": config.hidden_size,
      "num_hidden_layers": config.num_hidden_layers,
      "num_attention_heads": config.num_attention_heads,
      "intermediate_size": config.intermediate_size,
      "hidden_act": TO_HF_ACTIVATION[config.hidden_act.lower()],
      "hidden_dropout_prob": config.hidden_dropout_prob,
      "attention_probs_dropout_prob": config.attention_probs_dropout_prob,
      "max_position_embeddings": config.max_position_embeddings,
      "type_vocab_size": config.type_vocab_size,
      "initializer_range": config.initializer_range,
      "layer_norm_eps": LAYER_NORM_EPSILON,
      "pad_token_id": _PAD_ID,
      "tie_word_embeddings": True,
  }


def bert_config_from_hf(hf_config, source):
  """Our `BertConfig` from a transformers config.json dict; refuses what we can't compute."""
  model_type = hf_config.get("model_type")
  if model_type != "bert":
    raise UsageError("%s: model_type is %r, not \"bert\": only BERT models convert to the "
                     "original's checkpoint." % (source, model_type))
  values = {name: hf_config.get(name, default) for name, default in _HF_DEFAULTS.items()}
  act = values["hidden_act"]
  if not isinstance(act, str) or act not in FROM_HF_ACTIVATION:
    raise UsageError(
        "%s: hidden_act %r can't be computed here; supported: gelu and gelu_python (the exact "
        "erf form, our \"gelu_exact\"), gelu_new, gelu_pytorch_tanh, gelu_python_tanh, "
        "gelu_fast and gelu_accurate (the tanh form, the original's \"gelu\"), relu, tanh, "
        "linear." % (source, act))
  values["hidden_act"] = FROM_HF_ACTIVATION[act]
  epsilon = hf_config.get("layer_norm_eps", LAYER_NORM_EPSILON)
  if epsilon != LAYER_NORM_EPSILON:
    raise UsageError("%s: layer_norm_eps is %r; the original's LayerNorm uses 1e-12, and a "
                     "model trained with another epsilon would compute other numbers."
                     % (source, epsilon))
  position_type = hf_config.get("position_embedding_type", "absolute")
  if position_type != "absolute":
    raise UsageError("%s: position_embedding_type %r; the original has absolute position "
                     "embeddings only." % (source, position_type))
  for flag in ("is_decoder", "add_cross_attention"):
    if hf_config.get(flag):
      raise UsageError("%s: %s is set; the original BERT is a bidirectional encoder only."
                       % (source, flag))
  try:
    return BertConfig(**values)
  except UsageError as e:
    raise UsageError("%s: %s" % (source, e)) from None


def tokenizer_files(tokens, do_lower_case, model_max_length):
  """{file name: text} of a transformers BertTokenizer that splits text as FullTokenizer does.

  vocab.txt (one token per line, in id order) and tokenizer_config.json. BertTokenizer strips
  accents exactly when it lower-cases (strip_accents null), as the original does.
  """
  tokenizer_config = {
      "tokenizer_class": "BertTokenizer",
      "do_lower_case": bool(do_lower_case),
      "do_basic_tokenize": True,
      "tokenize_chinese_chars": True,
      "strip_accents": None,
      "never_split": None,
      "unk_token": tokenization.UNK_TOKEN,
      "sep_token": tokenization.SEP_TOKEN,
      "pad_token": "[PAD]",
      "cls_token": tokenization.CLS_TOKEN,
      "mask_token": tokenization.MASK_TOKEN,
      "model_max_length": model_max_length,
  }
  return {VOCAB: "".join(token + "\n" for token in tokens),
          TOKENIZER_CONFIG: json.dumps(tokenizer_config, indent=2, sort_keys=True) + "\n"}


def _isfile(path):
  return file_io.exists(path) and not file_io.isdir(path)


def _read_bytes(path):
  with file_io.open_file(path, "rb") as f:
    return f.read()


def _read_json(path):
  try:
    return json.loads(_read_bytes(path).decode("utf-8"))
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise UsageError("%s cannot be read as JSON: %s" % (path, e)) from None


def read_hf_vocab(input_dir):
  """(tokens in id order, file) from vocab.txt, else from tokenizer.json; (None, None) if none.

  transformers 5 saves only tokenizer.json; its WordPiece vocabulary and any added tokens must
  number 0..N-1 with one token per id.
  """
  vocab_path = file_io.join(input_dir, VOCAB)
  if _isfile(vocab_path):
    return list(tokenization.load_vocab(vocab_path)), vocab_path
  tokenizer_path = file_io.join(input_dir, TOKENIZER_JSON)
  if not _isfile(tokenizer_path):
    return None, None
  model = _read_json(tokenizer_path).get("model") or {}
  if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
    raise UsageError("%s: not a WordPiece tokenizer (model type %r); BERT's vocabulary is "
                     "WordPiece." % (tokenizer_path, model.get("type")))
  ids = dict(model["vocab"])
  for added in _read_json(tokenizer_path).get("added_tokens") or ():
    ids.setdefault(added["content"], added["id"])
  by_id = {}
  for token, index in ids.items():
    by_id.setdefault(index, []).append(token)
  if sorted(by_id) != list(range(len(by_id))) or any(len(t) > 1 for t in by_id.values()):
    raise UsageError("%s: the vocabulary's ids are not 0..N-1 with one token each."
                     % tokenizer_path)
  return [by_id[i][0] for i in range(len(by_id))], tokenizer_path


def read_hf_do_lower_case(input_dir):
  """Whether the directory's tokenizer lower-cases (None when it has no tokenizer)."""
  config_path = file_io.join(input_dir, TOKENIZER_CONFIG)
  if _isfile(config_path):
    value = _read_json(config_path).get("do_lower_case")
    if value is not None:
      return bool(value)
  tokenizer_path = file_io.join(input_dir, TOKENIZER_JSON)
  if _isfile(tokenizer_path):
    normalizer = _read_json(tokenizer_path).get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer":
      return bool(normalizer.get("lowercase"))
  return None


# ---------------------------------------------------------------------------------------------
# Weights in a transformers directory.


def _torch_available():
  return importlib.util.find_spec("torch") is not None


def _read_safetensors(path):
  try:
    if file_io.is_remote(path):
      return safetensors.numpy.load(_read_bytes(path))
    return safetensors.numpy.load_file(path)
  except safetensors.SafetensorError as e:
    raise UsageError("%s is not a complete safetensors file (truncated or corrupt?): %s"
                     % (path, e)) from None


def _read_pytorch_bin(path):
  if not _torch_available():
    raise UsageError("%s is a PyTorch pickle, which needs torch to read: install torch, or save "
                     "the model as safetensors (save_pretrained does by default)." % path)
  import torch  # pylint: disable=g-import-not-at-top
  try:
    state = torch.load(io.BytesIO(_read_bytes(path)) if file_io.is_remote(path) else path,
                       map_location="cpu", weights_only=True)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("%s cannot be read (truncated or corrupt?): %s"
                     % (path, str(e).strip().split("\n")[0])) from None
  tensors = {}
  for name, value in state.items():
    value = value.detach()
    tensors[name] = (value.float() if value.dtype == torch.bfloat16 else value).numpy()
  return tensors


def read_hf_weights(input_dir):
  """({name: array}, the file it came from) of a transformers model directory.

  model.safetensors, else its sharded index, else pytorch_model.bin (needs torch), else its index.
  """
  readers = ((SAFETENSORS, SAFETENSORS_INDEX, _read_safetensors),
             (PYTORCH_BIN, PYTORCH_BIN_INDEX, _read_pytorch_bin))
  for single, index, read in readers:
    path = file_io.join(input_dir, single)
    if _isfile(path):
      return read(path), path
    index_path = file_io.join(input_dir, index)
    if _isfile(index_path):
      weight_map = _read_json(index_path).get("weight_map") or {}
      tensors = {}
      for shard in sorted(set(weight_map.values())):
        shard_path = file_io.join(input_dir, shard)
        if not _isfile(shard_path):
          raise UsageError("%s names the shard %s, which does not exist." % (index_path, shard))
        for name, value in read(shard_path).items():
          if weight_map.get(name) == shard:
            tensors[name] = value
      return tensors, index_path
  raise UsageError("%s holds no model weights (no %s, %s, %s or %s)."
                   % (input_dir, SAFETENSORS, SAFETENSORS_INDEX, PYTORCH_BIN, PYTORCH_BIN_INDEX))


def _canonical_hf_names(hf_tensors, source):
  """{name as in BertForPreTraining: value}: adds BertModel's missing "bert." prefix, renames the
  LayerNorm gamma/beta of old PyTorch files, drops buffers."""
  bare = sorted(name for name in hf_tensors if name.startswith(_BERT_MODULES))
  prefixed = sorted(name for name in hf_tensors if name.startswith(_BERT_PREFIX))
  if bare and prefixed:
    raise UsageError("%s mixes names with and without the \"bert.\" prefix (%s, %s)."
                     % (source, prefixed[0], bare[0]))
  tensors = {}
  for name, value in hf_tensors.items():
    canonical = _BERT_PREFIX + name if name.startswith(_BERT_MODULES) else name
    if canonical[len(_BERT_PREFIX):] in _HF_BUFFERS:
      continue
    if canonical.endswith("LayerNorm.gamma"):
      canonical = canonical[:-len("gamma")] + "weight"
    elif canonical.endswith("LayerNorm.beta"):
      canonical = canonical[:-len("beta")] + "bias"
    tensors[canonical] = value
  return tensors


def hf_to_original(hf_tensors, config, weights_source, config_source, vocab=None,
                   tie_word_embeddings=True):
  """{TF1 name: float32 array}, parts, and the class they make from a transformers state dict.

  Args:
    hf_tensors: {name: array} as read from the directory (any of the four classes' names).
    config: our BertConfig (from `bert_config_from_hf`).
    weights_source, config_source: file names for the errors.
    vocab: optional (number of tokens, file name), checked against the embedding table first.
    tie_word_embeddings: the config's; when false, the masked LM's output weights must be in the
      file and equal to the embeddings (the original has no separate ones).
  """
  tensors = _canonical_hf_names(hf_tensors, weights_source)
  table = weight_table(config)
  by_hf = {weight.hf_name: weight for weight in table}
  decoder_weight = tensors.pop(_TIED_DECODER_WEIGHT, None)
  decoder_bias = tensors.pop(_TIED_DECODER_BIAS, None)
  if decoder_bias is not None and "cls.predictions.bias" not in tensors:
    tensors["cls.predictions.bias"] = decoder_bias
  unknown = sorted(name for name in tensors if name not in by_hf)
  if unknown:
    raise UsageError(
        "%s: %d tensors are not BERT's (%s); this converts BertForPreTraining, BertForMaskedLM, "
        "BertForNextSentencePrediction and BertModel with %d layers."
        % (weights_source, len(unknown), ", ".join(unknown[:4]), config.num_hidden_layers))
  found = {by_hf[name].tf_name: tuple(np.shape(value)) for name, value in tensors.items()}
  parts = _parts(found, table, weights_source)
  # Any set of parts makes a checkpoint (what is missing is left to init_checkpoint's rule).
  architecture = _ARCHITECTURES.get(frozenset(parts - {ENCODER}), "BERT encoder")
  if MASKED_LM in parts and not tie_word_embeddings and decoder_weight is None:
    raise UsageError("%s: tie_word_embeddings is false but %s has no %s; the original ties the "
                     "masked LM's output weights to the embeddings."
                     % (config_source, weights_source, _TIED_DECODER_WEIGHT))
  if vocab is not None:
    _check_vocab_rows(vocab[0], vocab[1], found[table[0].tf_name][0], weights_source)
  _check_shapes(found, table, weights_source, config_source, hf_layout=True)

  original = {}
  for weight in table:
    if weight.hf_name in tensors:
      value = _as_float32(weight.hf_name, tensors[weight.hf_name], weights_source)
      original[weight.tf_name] = np.ascontiguousarray(value.T if weight.transpose else value)
  # The original ties the masked LM's output weights to the embeddings (and its bias is one
  # vector): a model whose copies differ can't be represented, so it is refused, not changed.
  for name, tied, copy in ((_TIED_DECODER_WEIGHT, "bert/embeddings/word_embeddings",
                            decoder_weight),
                           (_TIED_DECODER_BIAS, "cls/predictions/output_bias", decoder_bias)):
    if copy is not None and not np.array_equal(
        _as_float32(name, copy, weights_source), original.get(tied)):
      raise UsageError("%s: %s differs from %s; the original ties them (untied output "
                       "embeddings can't be converted)." % (weights_source, name, tied))
  return original, parts, architecture


def original_to_hf(tensors, config, architecture):
  """{transformers name: float32 array} of `architecture` from {TF1 name: array} (checked)."""
  hf = {}
  for weight in weight_table(config):
    if weight.tf_name not in tensors:
      continue
    value = np.asarray(tensors[weight.tf_name], np.float32)
    name = weight.hf_name
    if architecture == "BertModel" and name.startswith(_BERT_PREFIX):
      name = name[len(_BERT_PREFIX):]
    hf[name] = np.ascontiguousarray(value.T if weight.transpose else value)
  return hf


# ---------------------------------------------------------------------------------------------
# Outputs.


def _check_hf_output_dir(output_dir, overwrite):
  if file_io.exists(output_dir) and not file_io.isdir(output_dir):
    raise UsageError("--output_hf_dir=%s exists and is not a directory." % output_dir)
  if file_io.isdir(output_dir) and file_io.listdir(output_dir) and not overwrite:
    raise UsageError("--output_hf_dir=%s exists and is not empty; pass --overwrite to replace "
                     "the model in it." % output_dir)


def _write_hf_dir(output_dir, tensors, files, overwrite):
  """Writes model.safetensors and `files` ({name: text}) to `output_dir`, atomically
  (`atomic.directory`): into a temporary directory beside it first, then a new or empty
  `output_dir` is replaced by it in one rename; with `overwrite`, each file replaces its namesake
  and the files that transformers would read instead of ours are removed.
  """
  del overwrite  # a non-empty output_dir without it was refused before any work
  with atomic.directory(output_dir) as temporary:
    path = file_io.join(temporary, SAFETENSORS)
    if file_io.is_remote(path):
      with file_io.open_file(path, "wb") as f:
        f.write(safetensors.numpy.save(tensors, metadata={"format": "pt"}))
    else:
      safetensors.numpy.save_file(tensors, path, metadata={"format": "pt"})
    for name, text in files.items():
      with file_io.open_file(file_io.join(temporary, name), "wb") as f:
        f.write(text.encode("utf-8"))
    if file_io.isdir(output_dir):
      _remove_shadowing_files(output_dir)


def _remove_shadowing_files(output_dir):
  for name in _HF_SHADOWING_FILES + tuple(_index_shards(output_dir)):
    path = file_io.join(output_dir, name)
    if _isfile(path):
      logging.info("--overwrite: removing %s (transformers would read it instead of the "
                   "converted files).", path)
      file_io.remove(path)


def _index_shards(directory):
  """The shard files that the sharded-weight indexes in `directory` name."""
  shards = set()
  for index in (SAFETENSORS_INDEX, PYTORCH_BIN_INDEX):
    path = file_io.join(directory, index)
    if _isfile(path):
      try:
        shards.update((_read_json(path).get("weight_map") or {}).values())
      except UsageError:
        pass  # an unreadable index is removed all the same; its shards stay
  return sorted(shard for shard in shards if os.path.basename(shard) == shard)


def _checkpoint_outputs(output_checkpoint, with_vocab):
  directory = os.path.dirname(output_checkpoint) or "."
  outputs = [output_checkpoint + ".index", output_checkpoint + ".data-00000-of-00001",
             os.path.join(directory, BERT_CONFIG)]
  if with_vocab:
    outputs.append(os.path.join(directory, VOCAB))
  return directory, outputs


# ---------------------------------------------------------------------------------------------
# The two directions.


def checkpoint_to_hf(input_checkpoint, bert_config_file, vocab_file, do_lower_case,
                     output_hf_dir, overwrite=False):
  """Writes a transformers model directory from an original (TF1) checkpoint.

  Args:
    input_checkpoint: TF1 checkpoint prefix, or a directory with a `checkpoint` file.
    bert_config_file: its bert_config.json.
    vocab_file: its vocab.txt.
    do_lower_case: whether the vocabulary is uncased (as create_pretraining_data.py's flag).
    output_hf_dir: the directory to write: model.safetensors, config.json, vocab.txt,
      tokenizer_config.json.
    overwrite: replace the model in an existing non-empty directory.
  Returns:
    {"architecture", "parts", "tensors": count, "dropped": TF1 names not converted}.
  Raises:
    UsageError: bad input, before anything is written.
  """
  from bert_mlm.storage import checkpoints  # pylint: disable=g-import-not-at-top
  if do_lower_case is None:
    raise UsageError("--do_lower_case is required with --output_hf_dir: True for an uncased "
                     "vocabulary, False for a cased one (the tokenizer written follows it).")
  _check_hf_output_dir(output_hf_dir, overwrite)
  config = BertConfig.from_json_file(bert_config_file)
  vocab = tokenization.load_vocab(vocab_file)
  tokenization.require_tokens(vocab, (tokenization.UNK_TOKEN, tokenization.CLS_TOKEN,
                                      tokenization.SEP_TOKEN, tokenization.MASK_TOKEN), vocab_file)
  reader = checkpoints.CheckpointReader(input_checkpoint)
  dropped = sorted(name for name in reader.shapes
                   if name == checkpoints.GLOBAL_STEP or checkpoints.is_optimizer_slot(name))
  shapes = {name: shape for name, shape in reader.shapes.items() if name not in dropped}
  table = weight_table(config)
  known = {weight.tf_name for weight in table}
  unknown = sorted(name for name in shapes if name not in known)
  if unknown:
    raise UsageError(
        "Checkpoint %s: %d variables are not BERT's pretraining model with %d layers (%s); a "
        "fine-tuned model's head, or the checkpoint of another config?"
        % (reader.path, len(unknown), config.num_hidden_layers, ", ".join(unknown[:4])))
  parts = _parts(shapes, table, "Checkpoint " + reader.path)
  architecture = _architecture(parts, "Checkpoint " + reader.path)
  _check_vocab_rows(len(vocab), vocab_file, shapes[table[0].tf_name][0],
                    "checkpoint " + reader.path)
  _check_shapes(shapes, table, "Checkpoint " + reader.path, bert_config_file, hf_layout=False)

  tensors = original_to_hf({name: reader.read(name) for name in shapes}, config, architecture)
  files = {HF_CONFIG: json.dumps(hf_config_dict(config, architecture), indent=2,
                                 sort_keys=True) + "\n"}
  files.update(tokenizer_files(list(vocab), do_lower_case, config.max_position_embeddings))
  _write_hf_dir(output_hf_dir, tensors, files, overwrite)
  logging.info("Wrote %s: %s with %d tensors (hidden_act %s -> %s)%s.", output_hf_dir,
               architecture, len(tensors), config.hidden_act,
               TO_HF_ACTIVATION[config.hidden_act.lower()],
               "; dropped %d optimizer slots and global_step" % len(dropped) if dropped else "")
  return {"architecture": architecture, "parts": sorted(parts), "tensors": len(tensors),
          "dropped": dropped}


def hf_to_checkpoint(input_hf_dir, output_checkpoint, overwrite=False):
  """Writes an original (TF1) checkpoint, bert_config.json and vocab.txt from transformers' BERT.

  The checkpoint holds what the directory has (a BertModel has no heads, a BertForMaskedLM no
  pooler); `run_pretraining.py --init_checkpoint` starts the rest from their initializers, as
  the original's init_checkpoint rule does.

  Args:
    input_hf_dir: a transformers BertForPreTraining, BertForMaskedLM,
      BertForNextSentencePrediction or BertModel directory (config.json + model.safetensors, or
      pytorch_model.bin when torch is installed).
    output_checkpoint: the checkpoint prefix to write (e.g. out/bert_model.ckpt); bert_config.json
      and vocab.txt go beside it.
    overwrite: replace existing output files.
  Returns:
    {"architecture", "parts", "tensors": count, "missing": TF1 names left to init_checkpoint,
     "hidden_act": ours, "do_lower_case": the tokenizer's (None if unknown)}.
  Raises:
    UsageError: bad input, before anything is written.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bert_mlm.storage import checkpoints  # pylint: disable=g-import-not-at-top
  config_path = file_io.join(input_hf_dir, HF_CONFIG)
  if not file_io.isdir(input_hf_dir):
    raise UsageError("--input_hf_dir=%s is not a directory." % input_hf_dir)
  if not _isfile(config_path):
    raise UsageError("--input_hf_dir=%s is not a transformers model directory (no %s)."
                     % (input_hf_dir, HF_CONFIG))
  if tf.io.gfile.isdir(output_checkpoint):
    raise UsageError("--output_checkpoint=%s is a directory; give a checkpoint prefix such as "
                     "%s" % (output_checkpoint, os.path.join(output_checkpoint, "bert_model.ckpt")))
  hf_config = _read_json(config_path)
  config = bert_config_from_hf(hf_config, config_path)
  tokens, vocab_source = read_hf_vocab(input_hf_dir)
  directory, outputs = _checkpoint_outputs(output_checkpoint, tokens is not None)
  existing = [path for path in outputs if tf.io.gfile.exists(path)]
  if existing and not overwrite:
    raise UsageError("%s already exists; pass --overwrite to replace it."
                     % ", ".join(existing))
  hf_tensors, weights_source = read_hf_weights(input_hf_dir)
  original, parts, architecture = hf_to_original(
      hf_tensors, config, weights_source, config_path,
      vocab=None if tokens is None else (len(tokens), vocab_source),
      tie_word_embeddings=hf_config.get("tie_word_embeddings", True) is not False)
  missing = sorted(weight.tf_name for weight in weight_table(config)
                   if weight.tf_name not in original)

  # The config and vocabulary first, the checkpoint last: a checkpoint under its final name has
  # its bert_config.json beside it.
  tf.io.gfile.makedirs(directory)
  written = {BERT_CONFIG: config.to_json_string()}
  if tokens is not None:
    written[VOCAB] = "".join(token + "\n" for token in tokens)
  names = sorted(written)
  with atomic.AtomicOutputs([os.path.join(directory, name) for name in names]) as files:
    for f, name in zip(files, names):
      f.write(written[name].encode("utf-8"))
  checkpoints.save_checkpoint(output_checkpoint, original)

  do_lower_case = read_hf_do_lower_case(input_hf_dir)
  logging.info("Wrote %s (%d variables) from %s (%s), and %s.", output_checkpoint,
               len(original), weights_source, architecture, ", ".join(names))
  if config.hidden_act == "gelu_exact":
    logging.info("hidden_act: transformers' \"gelu\" (exact erf) is \"gelu_exact\" here; the "
                 "original's own code does not know it and refuses this bert_config.json.")
  if missing:
    logging.info("Not in %s, left to --init_checkpoint's rule (initialised, not loaded): %s",
                 input_hf_dir, ", ".join(sorted({name.rsplit("/", 1)[0] for name in missing})))
  if tokens is None:
    logging.warning("%s has no vocab.txt or tokenizer.json: no vocab.txt written; use the "
                    "vocabulary the model was trained with.", input_hf_dir)
  if do_lower_case is not None:
    logging.info("The tokenizer %s: use --do_lower_case=%s with create_pretraining_data.py.",
                 "lower-cases" if do_lower_case else "keeps case", do_lower_case)
  return {"architecture": architecture, "parts": sorted(parts), "tensors": len(original),
          "missing": missing, "hidden_act": config.hidden_act, "do_lower_case": do_lower_case}


_TO_HF_FLAGS = ("input_checkpoint", "bert_config_file", "vocab_file", "do_lower_case",
                "output_hf_dir")
_FROM_HF_FLAGS = ("input_hf_dir", "output_checkpoint")


def convert(overwrite=False, **flag_values):
  """convert_checkpoint.py: one direction from the flags given (None = not given)."""
  unknown = sorted(set(flag_values) - set(_TO_HF_FLAGS) - set(_FROM_HF_FLAGS))
  if unknown:
    raise TypeError("unknown arguments: %s" % ", ".join(unknown))
  given = {name for name, value in flag_values.items() if value is not None}
  to_hf, from_hf = given & set(_TO_HF_FLAGS), given & set(_FROM_HF_FLAGS)
  usage = ("give either --input_checkpoint, --bert_config_file, --vocab_file, --do_lower_case "
           "and --output_hf_dir (original -> Hugging Face), or --input_hf_dir and "
           "--output_checkpoint (Hugging Face -> original)")
  if to_hf and from_hf:
    raise UsageError("The two directions' flags are mixed (%s with %s): %s."
                     % (_flag_list(to_hf), _flag_list(from_hf), usage))
  if not given:
    raise UsageError("Nothing to convert: %s." % usage)
  names = _TO_HF_FLAGS if to_hf else _FROM_HF_FLAGS
  # (A missing --do_lower_case gets its own message from checkpoint_to_hf.)
  missing = [name for name in names if name not in given and name != "do_lower_case"]
  if missing:
    raise UsageError("Missing %s: %s." % (_flag_list(missing), usage))
  values = {name: flag_values[name] for name in names}
  if to_hf:
    return checkpoint_to_hf(overwrite=overwrite, **values)
  return hf_to_checkpoint(overwrite=overwrite, **values)


def _flag_list(names):
  return ", ".join("--" + name for name in sorted(names))
