"""The data side of dynamic masking: NSP instances written once, without masks.

`create_pretraining_data.py --dynamic_masking=True` builds the original's next sentence pairs
(the same documents, chunking, random next segments and truncation) but draws no masks: each
example holds input_ids, input_mask, segment_ids and next_sentence_labels
(`schema.UNMASKED_FEATURE_NAMES`), and the input pipeline masks every batch afresh
(`dynamic_masking.py`). No data is multiplied by `dupe_factor` to vary the masks, so it is
usually 1 (a larger one still varies the pairs and truncation).

Whole-word masking needs no extra feature for `##` pieces: the pipeline groups a piece with the
token before it from the ids alone, through the vocabulary, as the original groups token strings.
Chinese words (--chinese_whole_word_mask) can't be told from the ids: those records also hold
`continues_word` (schema.py), 1 at each CJK character that continues a segmenter word.

Imports no TensorFlow (the data side never does for local files).
"""

import dataclasses

from bert_mlm import chinese_words
from bert_mlm import schema
from bert_mlm.storage import tfrecord
from bert_mlm import tokenization


@dataclasses.dataclass
class UnmaskedInstance:
  """[CLS] A [SEP] B [SEP] as ids, [num_tokens]; segment A is num_segment_a_tokens long.

  continues_word: with Chinese words, 0/1 per token, [num_tokens]; else None.
  """
  input_ids: list
  num_segment_a_tokens: int
  is_random_next: bool
  continues_word: list = None


class UnmaskedInstanceMaker(object):
  """Stands in for `pretraining_data.MaskedLmMasker`: the same instance, no masking draws."""

  def __init__(self, vocab, marked_words=False):
    """marked_words: the ids may carry chinese_words' marks, written as `continues_word`."""
    self.cls_id = vocab[tokenization.CLS_TOKEN]
    self.sep_id = vocab[tokenization.SEP_TOKEN]
    self.vocab_size = len(vocab)
    self.marked_words = marked_words

  def create_instance(self, tokens_a, tokens_b, is_random_next, rng):
    del rng  # nothing is drawn: the masks come later, per batch
    input_ids = [self.cls_id] + tokens_a + [self.sep_id] + tokens_b + [self.sep_id]
    if not self.marked_words:
      return UnmaskedInstance(input_ids, len(tokens_a), is_random_next)
    return UnmaskedInstance(chinese_words.unmark(input_ids, self.vocab_size), len(tokens_a),
                            is_random_next,
                            chinese_words.continuation_flags(input_ids, self.vocab_size))


class UnmaskedExampleEncoder(object):
  """UnmaskedInstance -> serialized tf.train.Example in the unmasked layout, zero-padded."""

  def __init__(self, max_seq_length, continues_word=False):
    """continues_word: write that feature too (instances from a maker with marked_words)."""
    self.max_seq_length = max_seq_length
    self.continues_word = continues_word
    names = schema.UNMASKED_FEATURE_NAMES
    if continues_word:
      names += (schema.CONTINUES_WORD,)
    self._schema = tfrecord.ExampleSchema(
        [(name, tfrecord.FLOAT if schema.DTYPES[name] == schema.FLOAT32 else tfrecord.INT64)
         for name in names])
    self._zeros = b"\x00" * max_seq_length
    self._ones = b"\x01" * max_seq_length

  def encode(self, instance):
    num_tokens = len(instance.input_ids)
    if num_tokens > self.max_seq_length:
      raise AssertionError("instance exceeds max_seq_length")
    padding = self._zeros[:self.max_seq_length - num_tokens]
    num_segment_a = instance.num_segment_a_tokens + 2  # [CLS] A [SEP]
    features = (
        tfrecord.pack_int64s(instance.input_ids) + padding,
        self._ones[:num_tokens] + padding,
        self._zeros[:num_segment_a] + self._ones[:num_tokens - num_segment_a] + padding,
        b"\x01" if instance.is_random_next else b"\x00",
    )
    if self.continues_word:
      features += (bytes(instance.continues_word) + padding,)
    return self._schema.serialize(features)


def maker_and_encoder(vocab, max_seq_length, marked_words=False):
  """The (instance maker, example encoder) pair that `create_training_instances` uses.

  marked_words: the documents' ids carry chinese_words' marks (--chinese_whole_word_mask),
  written as the `continues_word` feature.
  """
  return (UnmaskedInstanceMaker(vocab, marked_words),
          UnmaskedExampleEncoder(max_seq_length, continues_word=marked_words))
