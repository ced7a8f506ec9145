"""The files of a transformers model directory: tokenizer files, weights, and writing one.

Only numpy and `safetensors` (PyTorch only to read a pytorch_model.bin). Every path may be a
`gs://` URL (any `tf.io.gfile` filesystem).
"""

import importlib.util
import io
import json
import os

from absl import logging
# Imported for its side effect: it gives numpy the "bfloat16" dtype, which safetensors' numpy API
# then reads (a dependency of TensorFlow, so always installed with it).
import ml_dtypes  # pylint: disable=unused-import
import safetensors
import safetensors.numpy

from bert_mlm import tokenization
from bert_mlm.errors import UsageError
from bert_mlm.storage import atomic
from bert_mlm.storage import file_io

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


def isfile(path):
  return file_io.exists(path) and not file_io.isdir(path)


def _read_bytes(path):
  with file_io.open_file(path, "rb") as f:
    return f.read()


def read_json(path):
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
  if isfile(vocab_path):
    return list(tokenization.load_vocab(vocab_path)), vocab_path
  tokenizer_path = file_io.join(input_dir, TOKENIZER_JSON)
  if not isfile(tokenizer_path):
    return None, None
  model = read_json(tokenizer_path).get("model") or {}
  if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
    raise UsageError("%s: not a WordPiece tokenizer (model type %r); BERT's vocabulary is "
                     "WordPiece." % (tokenizer_path, model.get("type")))
  ids = dict(model["vocab"])
  for added in read_json(tokenizer_path).get("added_tokens") or ():
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
  if isfile(config_path):
    value = read_json(config_path).get("do_lower_case")
    if value is not None:
      return bool(value)
  tokenizer_path = file_io.join(input_dir, TOKENIZER_JSON)
  if isfile(tokenizer_path):
    normalizer = read_json(tokenizer_path).get("normalizer") or {}
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
    if isfile(path):
      return read(path), path
    index_path = file_io.join(input_dir, index)
    if isfile(index_path):
      weight_map = read_json(index_path).get("weight_map") or {}
      tensors = {}
      for shard in sorted(set(weight_map.values())):
        shard_path = file_io.join(input_dir, shard)
        if not isfile(shard_path):
          raise UsageError("%s names the shard %s, which does not exist." % (index_path, shard))
        for name, value in read(shard_path).items():
          if weight_map.get(name) == shard:
            tensors[name] = value
      return tensors, index_path
  raise UsageError("%s holds no model weights (no %s, %s, %s or %s)."
                   % (input_dir, SAFETENSORS, SAFETENSORS_INDEX, PYTORCH_BIN, PYTORCH_BIN_INDEX))


# ---------------------------------------------------------------------------------------------
# Writing a model directory.


def check_output_dir(output_dir, overwrite):
  if file_io.exists(output_dir) and not file_io.isdir(output_dir):
    raise UsageError("--output_hf_dir=%s exists and is not a directory." % output_dir)
  if file_io.isdir(output_dir) and file_io.listdir(output_dir) and not overwrite:
    raise UsageError("--output_hf_dir=%s exists and is not empty; pass --overwrite to replace "
                     "the model in it." % output_dir)


def write_hf_dir(output_dir, tensors, files, overwrite):
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
    if isfile(path):
      logging.info("--overwrite: removing %s (transformers would read it instead of the "
                   "converted files).", path)
      file_io.remove(path)


def _index_shards(directory):
  """The shard files that the sharded-weight indexes in `directory` name."""
  shards = set()
  for index in (SAFETENSORS_INDEX, PYTORCH_BIN_INDEX):
    path = file_io.join(directory, index)
    if isfile(path):
      try:
        shards.update((read_json(path).get("weight_map") or {}).values())
      except UsageError:
        pass  # an unreadable index is removed all the same; its shards stay
  return sorted(shard for shard in shards if os.path.basename(shard) == shard)
