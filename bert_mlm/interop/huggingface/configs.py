"""transformers' config.json <-> our `BertConfig` (bert_config.json).

The activation (see `TO_HF_ACTIVATION`): the original's "gelu" is the tanh approximation, which
transformers calls "gelu_new"; transformers' "gelu" is the exact erf form, which the original
does not have and becomes our "gelu_exact" (`config.py`). Activations neither side can compute
the same are refused, never replaced.
"""

from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError

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
