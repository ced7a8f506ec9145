"""The original's TF1 weight names <-> transformers' BERT names, and state dicts moved across.

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
"""

import collections

from absl import logging
import ml_dtypes
import numpy as np

from bert_mlm.errors import UsageError

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


def complete_parts(present, table, source):
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


def architecture_of(parts, source):
  """The transformers class that holds exactly `parts`; raises UsageError if none does."""
  architecture = _ARCHITECTURES.get(frozenset(parts - {ENCODER}))
  if architecture is None:
    raise UsageError(
        "%s holds the encoder with %s: no transformers BERT class holds exactly that "
        "(BertForPreTraining: pooler and both heads; BertForMaskedLM: the masked LM head, no "
        "pooler; BertForNextSentencePrediction: pooler and next sentence head; BertModel: pooler)."
        % (source, ", ".join(sorted(parts - {ENCODER})) or "neither pooler nor heads"))
  return architecture


def check_shapes(found, table, weights_source, config_source, hf_layout):
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


def check_vocab_rows(vocab_size, vocab_source, rows, weights_source):
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


def _canonical_names(hf_tensors, source):
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
  tensors = _canonical_names(hf_tensors, weights_source)
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
  parts = complete_parts(found, table, weights_source)
  # Any set of parts makes a checkpoint (what is missing is left to init_checkpoint's rule).
  architecture = _ARCHITECTURES.get(frozenset(parts - {ENCODER}), "BERT encoder")
  if MASKED_LM in parts and not tie_word_embeddings and decoder_weight is None:
    raise UsageError("%s: tie_word_embeddings is false but %s has no %s; the original ties the "
                     "masked LM's output weights to the embeddings."
                     % (config_source, weights_source, _TIED_DECODER_WEIGHT))
  if vocab is not None:
    check_vocab_rows(vocab[0], vocab[1], found[table[0].tf_name][0], weights_source)
  check_shapes(found, table, weights_source, config_source, hf_layout=True)

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
