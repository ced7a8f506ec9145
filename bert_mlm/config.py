"""BertConfig: the original's model hyperparameters, read from and written to bert_config.json."""

import copy
import json

from absl import logging

from bert_mlm.storage import file_io
from bert_mlm.errors import UsageError

# The original's four, then "gelu_exact": the exact erf GELU, which the original does not have
# (its "gelu" is the tanh approximation). It is here for models trained elsewhere with the erf
# form (Hugging Face transformers calls it "gelu"); the original's code rejects a
# bert_config.json that names it ("Unsupported activation"), so such a config can't be run by it
# with another activation by mistake.
_ACTIVATIONS = ("gelu", "relu", "tanh", "linear", "gelu_exact")


class BertConfig(object):
  """The original's configuration fields and defaults.

  Attributes:
    vocab_size: rows of the word embedding table.
    hidden_size: width H of every layer.
    num_hidden_layers: transformer layers L.
    num_attention_heads: heads A; H must be a multiple of A.
    intermediate_size: width of the feed-forward block.
    hidden_act: "gelu" (the original's tanh approximation), "relu", "tanh" or "linear"; or
      "gelu_exact" (the erf GELU; not in the original, see _ACTIVATIONS).
    hidden_dropout_prob: dropout on embeddings, attention output and feed-forward output.
    attention_probs_dropout_prob: dropout on attention probabilities.
    max_position_embeddings: rows of the position table (the longest sequence).
    type_vocab_size: rows of the token type (segment) table.
    initializer_range: stddev of the truncated normal initialisers.
  """

  FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "hidden_dropout_prob",
            "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
            "initializer_range")

  def __init__(self, vocab_size, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=16,
               initializer_range=0.02):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.hidden_act = hidden_act
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range
    self.validate()

  def validate(self):
    """Raises UsageError naming the field whose value can't build a model."""
    for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                 "intermediate_size", "max_position_embeddings", "type_vocab_size"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError("BertConfig.%s must be a positive integer, got %r." % (name, value))
    if self.hidden_size % self.num_attention_heads:
      raise UsageError("BertConfig.hidden_size (%d) is not a multiple of num_attention_heads (%d)."
                       % (self.hidden_size, self.num_attention_heads))
    if not isinstance(self.hidden_act, str) or self.hidden_act.lower() not in _ACTIVATIONS:
      raise UsageError("BertConfig.hidden_act %r is not supported; use one of %s."
                       % (self.hidden_act, ", ".join(_ACTIVATIONS)))
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError("BertConfig.%s must be a number, got %r." % (name, value))
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      value = getattr(self, name)
      if not 0.0 <= value < 1.0:
        raise UsageError("BertConfig.%s must be in [0, 1), got %r." % (name, value))
    if not self.initializer_range > 0:
      raise UsageError("BertConfig.initializer_range must be positive, got %r."
                       % self.initializer_range)

  @classmethod
  def from_dict(cls, json_object, source="config"):
    """Builds a config; keys the original does not use are logged and ignored."""
    if not isinstance(json_object, dict):
      raise UsageError("%s: a JSON object of the config's fields is expected, not %s."
                       % (source, type(json_object).__name__))
    unknown = sorted(set(json_object) - set(cls.FIELDS))
    if unknown:
      logging.warning("%s: ignoring keys the original BERT does not use: %s", source,
                      ", ".join(unknown))
    if "vocab_size" not in json_object:
      raise UsageError("%s: vocab_size is required." % source)
    return cls(**{k: v for k, v in json_object.items() if k in cls.FIELDS})

  @classmethod
  def from_json_file(cls, json_file):
    """Reads bert_config.json from a local path or a `gs://` (any `tf.io.gfile`) URL."""
    text = file_io.read_text(json_file, what="BERT config")
    try:
      json_object = json.loads(text)
    except json.JSONDecodeError as e:
      raise UsageError("%s:%d:%d: not valid JSON (%s)." % (json_file, e.lineno, e.colno,
                                                            e.msg)) from None
    try:
      return cls.from_dict(json_object, source=json_file)
    except (TypeError, ValueError) as e:
      message = str(e)  # from_dict's own messages already start with the file
      raise UsageError(message if message.startswith(json_file + ":")
                       else "%s: %s" % (json_file, message)) from None

  def to_dict(self):
    return copy.deepcopy({name: getattr(self, name) for name in self.FIELDS})

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

  def __eq__(self, other):
    return isinstance(other, BertConfig) and self.to_dict() == other.to_dict()

  def __repr__(self):
    return "BertConfig(%s)" % ", ".join("%s=%r" % kv for kv in self.to_dict().items())


def check_vocab_size(config, vocab_file):
  """Raises UsageError if the vocabulary file's size differs from `config.vocab_size`.

  A mismatch trains silently on wrong ids (or fails with NaN later); catch it before any step.
  """
  from bert_mlm import tokenization  # pylint: disable=g-import-not-at-top
  size = len(tokenization.load_vocab(vocab_file))
  if size != config.vocab_size:
    raise UsageError("The vocabulary %s has %d tokens but the config's vocab_size is %d."
                     % (vocab_file, size, config.vocab_size))
