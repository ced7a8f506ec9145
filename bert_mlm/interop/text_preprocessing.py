"""FullTokenizer as tensorflow-text ops, and BERT input packing, for graphs and SavedModels.

`savedmodel.py` puts these in the preprocessing SavedModel, so a TensorFlow user can feed raw strings
to the encoder without this package. The offline data path keeps `tokenization.FullTokenizer`.

tensorflow-text's `BertTokenizer(lower_case=True)` is not FullTokenizer. Where they differ, and
what `TextTokenizer` does about it (measured in `benchmarks/tokenizer_agreement.py`):

  | FullTokenizer                           | BertTokenizer as shipped       | here             |
  |-----------------------------------------|--------------------------------|------------------|
  | lower-cases with `str.lower` (Unicode   | NFKC case folding: also maps   | ICU's full lower-|
  | full case mapping, final sigma), then   | compatibility characters (`ﬁ`  | casing (the same |
  | NFD, drops Mn                           | -> fi, fullwidth -> ASCII, `²` | mapping), NFD,   |
  |                                         | -> 2), folds `ß` -> ss, has no | drops Mn         |
  |                                         | final sigma                    |                  |
  | drops control and format characters     | turns them into spaces (splits | drops them       |
  | (Cc, Cf but tab/newline/CR), U+FFFD     | "ab\x01cd"); U+FFFD stays in   |                  |
  |                                         | the word (-> [UNK])            |                  |
  | splits on Unicode spaces (Zs) and       | splits on ASCII whitespace     | turns them into  |
  | U+2028/U+2029                           | (RE2's \\s) and what NFKC made  | a space          |
  |                                         | a space (not U+1680, U+2028/9) |                  |
  | a basic token over 200 characters is    | a word over 100 bytes is [UNK] | [UNK] over 200   |
  | [UNK]                                   | (`é` * 51 already)             | characters       |
  | invalid UTF-8 bytes dropped             | the word becomes [UNK]         | dropped          |

What remains (tested in tests/test_text_preprocessing.py, README "Tokenizer agreement"):
  - character properties come from Python's `unicodedata` (Unicode 14.0 on Python 3.11) in
    FullTokenizer and from ICU and RE2 (a newer Unicode) here: a character assigned or
    recategorised after Unicode 14 (e.g. the Egyptian hieroglyph format controls U+13439-1343F,
    Cf since 15.0) is treated differently;
  - `preserve_unused_tokens` (the PyPI release's option) has no equivalent here.

Shapes: B batch, W words, P pieces per word, T tokens, S seq_length.
"""

import tensorflow as tf
import tensorflow_text as text

from bert_mlm import tokenization

# FullTokenizer's per-token limit (tokenization._MAX_INPUT_CHARS_PER_WORD) in characters; the
# byte limit of tensorflow-text's WordPiece op is set so that it never cuts in before it.
MAX_CHARS_PER_WORD = 200
_MAX_BYTES_PER_WORD = 4 * MAX_CHARS_PER_WORD

# FullTokenizer's cleaning, as RE2 classes: control characters (Cc, Cf) but tab, newline and
# carriage return are dropped, and so are U+0000 (a Cc) and U+FFFD; whitespace (Zs, tab,
# newline, CR, and U+2028/U+2029 on which str.split() splits) becomes a space.
_DROPPED = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\p{Cf}\x{FFFD}]"
_SPACES = r"[\t\n\r\p{Zs}\x{2028}\x{2029}]"
# FullTokenizer's punctuation (every non-alphanumeric ASCII symbol, and Unicode P*) and CJK
# ideographs: each is a token of its own.
_PUNCTUATION = r"[!-/]|[:-@]|[\[-`]|[{-~]|\p{P}"
_CJK = (r"[\x{4E00}-\x{9FFF}]|[\x{3400}-\x{4DBF}]|[\x{20000}-\x{2A6DF}]|[\x{2A700}-\x{2B73F}]|"
        r"[\x{2B740}-\x{2B81F}]|[\x{2B820}-\x{2CEAF}]|[\x{F900}-\x{FAFF}]|[\x{2F800}-\x{2FA1F}]")
_SPLIT = " +|" + _PUNCTUATION + "|" + _CJK
_KEEP = _PUNCTUATION + "|" + _CJK


class FullTokenizerBasic(object):
  """FullTokenizer's BasicTokenizer as string ops (tensorflow-text's basic tokenizer interface).

  Passed to `text.BertTokenizer` as `basic_tokenizer_class`; it takes that class's arguments,
  of which only `lower_case` is used.
  """

  def __init__(self, lower_case=False, keep_whitespace=False, normalization_form=None,
               preserve_unused_token=False):
    del keep_whitespace, normalization_form  # FullTokenizer has neither option
    if preserve_unused_token:
      raise ValueError("preserve_unused_tokens has no tensorflow-text equivalent here.")
    self.lower_case = lower_case

  def normalize(self, texts):
    """FullTokenizer's cleaning and (with lower_case) lower-casing: string [...] -> [...]."""
    # Invalid UTF-8 becomes U+FFFD, which is dropped: the bytes FullTokenizer's decoding drops.
    texts = text.coerce_to_structurally_valid_utf8(texts)
    texts = tf.strings.regex_replace(texts, _DROPPED, "")
    texts = tf.strings.regex_replace(texts, _SPACES, " ")
    if self.lower_case:
      # ICU's full lower-casing is str.lower's mapping (with final sigma and U+0130); NFKC case
      # folding (tensorflow-text's choice) would also rewrite compatibility characters.
      texts = tf.strings.lower(texts, encoding="utf-8")
      texts = text.normalize_utf8(texts, "NFD")
      texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
    return texts

  def tokenize_with_offsets(self, texts):
    """string [B] -> basic tokens string [B, (W)] and their byte offsets in the normalized text.

    A token longer than FullTokenizer's 200-character limit is replaced by "[UNK]", which the
    WordPiece step then maps to the [UNK] id (as FullTokenizer does with such a token).
    """
    words, starts, ends = text.regex_split_with_offsets(self.normalize(texts), _SPLIT, _KEEP)
    too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
    words = words.with_flat_values(
        tf.where(too_long, tokenization.UNK_TOKEN, words.flat_values))
    return words, starts, ends

  def tokenize(self, texts):
    return self.tokenize_with_offsets(texts)[0]


def vocab_table(vocab):
  """A static {token: id} table (int64) of an ordered vocab dict, ids as FullTokenizer's.

  Built from the tokens themselves (not the file) so that a SavedModel holding it needs no asset
  and reads the vocabulary exactly as `tokenization.load_vocab` does (lines stripped).
  """
  tokens = list(vocab)
  return tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(tokens, tf.string), tf.constant([vocab[t] for t in tokens], tf.int64)),
      default_value=-1)


class TextTokenizer(object):
  """Text -> WordPiece ids with tensorflow-text, the same ids as FullTokenizer (see module doc).

  Attributes:
    table: the vocabulary lookup table (a resource; a tf.Module holding this object must track
      it for saving).
  """

  def __init__(self, vocab, do_lower_case=True):
    tokenization.require_tokens(vocab, (tokenization.UNK_TOKEN,), "the vocabulary")
    self.table = vocab_table(vocab)
    self.do_lower_case = do_lower_case
    self._tokenizer = text.BertTokenizer(
        self.table, suffix_indicator="##", max_bytes_per_word=_MAX_BYTES_PER_WORD,
        token_out_type=tf.int64, unknown_token=tokenization.UNK_TOKEN,
        split_unknown_characters=False, lower_case=do_lower_case,
        basic_tokenizer_class=FullTokenizerBasic)

  def tokenize(self, texts):
    """string [B] -> int32 [B, (W), (P)]: the WordPiece ids of each basic token of each text."""
    return tf.cast(self._tokenizer.tokenize(texts), tf.int32)


def pack_inputs(segments, seq_length, cls_id, sep_id):
  """The original's [CLS] A [SEP] (B [SEP]) packing of one or two tokenized segments.

  Args:
    segments: a list of one or two int [B, (W), (P)] or [B, (T)] ragged tensors.
    seq_length: int scalar S (a Python int or a tensor).
    cls_id, sep_id: the ids of [CLS] and [SEP].
  Returns:
    {input_word_ids, input_mask, input_type_ids}: int32 [B, S]. Segments that don't fit are cut
    at the end, the longer one first, as the original's truncate_seq_pair (round robin over the
    segments gives the same lengths; a tie leaves A the extra token, as the original does).
  """
  if not 1 <= len(segments) <= 2:
    raise ValueError("bert_pack_inputs takes one or two segments, got %d." % len(segments))
  flat = []
  for segment in segments:
    if segment.ragged_rank > 1:
      segment = segment.merge_dims(-2, -1)
    flat.append(tf.cast(segment, tf.int32))
  seq_length = tf.cast(seq_length, tf.int32)
  trimmed = text.RoundRobinTrimmer(max_seq_length=seq_length - len(flat) - 1).trim(flat)
  ids, type_ids = text.combine_segments(trimmed, start_of_sequence_id=cls_id,
                                        end_of_segment_id=sep_id)
  input_word_ids, input_mask = text.pad_model_inputs(ids, max_seq_length=seq_length)
  input_type_ids, _ = text.pad_model_inputs(type_ids, max_seq_length=seq_length)
  return {"input_word_ids": tf.cast(input_word_ids, tf.int32),
          "input_mask": tf.cast(input_mask, tf.int32),
          "input_type_ids": tf.cast(input_type_ids, tf.int32)}
