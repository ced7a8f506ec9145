"""The tensorflow-text tokenizer against FullTokenizer; input packing against the original's."""

import random
import unicodedata

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as text

from bert_mlm.interop import text_preprocessing
from bert_mlm import tokenization
from reference import tricky_text
from tests import helpers


@pytest.fixture(scope="module")
def uncased(minilm_vocab):
  """FullTokenizer, ours and tensorflow-text's BertTokenizer as shipped, on the uncased vocab."""
  full = tokenization.FullTokenizer(minilm_vocab)
  ours = text_preprocessing.TextTokenizer(full.vocab)
  stock = text.BertTokenizer(text_preprocessing.vocab_table(full.vocab), lower_case=True)
  return full, ours, stock


def _ids(tokenizer, texts):
  return tokenizer.tokenize(tf.constant([t.encode("utf-8") for t in texts])).merge_dims(
      -2, -1).to_list()


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_same_ids_as_full_tokenizer(do_lower_case, minilm_vocab, english_corpus,
                                    multilingual_corpus, sample_corpus):
  full = tokenization.FullTokenizer(minilm_vocab, do_lower_case=do_lower_case)
  ours = text_preprocessing.TextTokenizer(full.vocab, do_lower_case=do_lower_case)
  texts = helpers.text_lines(english_corpus, multilingual_corpus, sample_corpus)
  # Control and format characters, every kind of space, accents, CJK, words at the 200-character
  # limit (and multi-byte ones past tensorflow-text's 100 bytes).
  texts += tricky_text.random_texts(seed=int(do_lower_case) + 10, count=3000)
  got = _ids(ours, texts)
  mismatches = [(t, g) for t, g in zip(texts, got) if g != full.tokenize_to_ids(t)]
  assert not mismatches[:3]
  assert len(texts) > 17000


@pytest.mark.parametrize("raw, full_tokens", [
    ("ﬁne ＡＢＣ x²", ["ﬁ", "##ne", "[UNK]", "x", "##²"]),  # NFKC folding: fine abc x ##2
    ("straße", ["st", "##raße"]),  # case folding: st ##ras ##se
    ("ΟΔΟΣ", ["ο", "##δ", "##ος"]),  # case folding has no final sigma: ο ##δ ##ο ##σ
    ("ab\x01cd", ["abc", "##d"]),  # a control character dropped, not a space: ab cd
    ("a\u00a0b\u3000c\u2028d", ["a", "b", "c", "d"]),  # Unicode spaces split: a b [UNK]
    ("é" * 150, ["ee"] + ["##ee"] * 74),  # 150 characters, 300 bytes: [UNK] at 100 bytes
    ("bad \ufffd byte", ["bad", "byte"]),  # U+FFFD dropped: bad [UNK] byte
])
def test_differences_of_tensorflow_texts_defaults_are_closed(raw, full_tokens, uncased):
  """What BertTokenizer(lower_case=True) does differently (in the comments), and ours doesn't."""
  full, ours, stock = uncased
  assert full.tokenize(raw) == full_tokens
  want = full.convert_tokens_to_ids(full_tokens)
  assert _ids(ours, [raw])[0] == want
  assert stock.tokenize([raw.encode("utf-8")]).merge_dims(-2, -1).to_list()[0] != want


def test_invalid_utf8_is_dropped_as_full_tokenizer_drops_it(uncased):
  full, ours, _ = uncased
  raw = [b"caf\xc3 ok", b"\xff\xfehello\xed\xa0\x80 world", b"a\xe2\x82"]
  got = ours.tokenize(tf.constant(raw)).merge_dims(-2, -1).to_list()
  assert got == [full.tokenize_to_ids(r.decode("utf-8", "ignore")) for r in raw]


@pytest.mark.slow
def test_every_code_point_agrees_but_those_unassigned_in_pythons_unicode(uncased):
  """Each code point of planes 0, 1 and 14 alone and inside a word: the only disagreements are
  characters Python's unicodedata (Unicode 14 on 3.11) doesn't know, which ICU and RE2 do.
  (Planes 2 and 3 hold CJK ideographs only, each a token of its own on both sides; 4-13 are
  unassigned, 15-16 private use.)"""
  full, ours, _ = uncased
  code_points = [c for c in list(range(0x20000)) + list(range(0xE0000, 0xF0000))
                 if not 0xD800 <= c <= 0xDFFF]
  texts = ["a%sb %s" % (chr(c), chr(c) * 2) for c in code_points]
  got = _ids(ours, texts)
  differing = [c for c, t, g in zip(code_points, texts, got) if g != full.tokenize_to_ids(t)]
  assert {unicodedata.category(chr(c)) for c in differing} <= {"Cn"}, [
      hex(c) for c in differing if unicodedata.category(chr(c)) != "Cn"][:10]
  assert len(differing) < 100  # 65 with Python 3.11 and TensorFlow 2.21


@pytest.mark.parametrize("pairs", [False, True])
def test_pack_inputs_is_the_originals_packing(pairs):
  rng = random.Random(int(pairs))
  seq_length = 16
  a = [[rng.randint(5, 99) for _ in range(rng.randint(0, 20))] for _ in range(200)]
  b = [[rng.randint(5, 99) for _ in range(rng.randint(0, 20))] for _ in range(200)]
  segments = [tf.ragged.constant(a, tf.int32, ragged_rank=1)]
  if pairs:
    segments.append(tf.ragged.constant(b, tf.int32, ragged_rank=1))
  packed = text_preprocessing.pack_inputs(segments, seq_length, cls_id=1, sep_id=2)
  for i in range(200):
    ids, mask, types = helpers.original_pack(a[i], b[i] if pairs else None, seq_length, 1, 2)
    assert packed["input_word_ids"][i].numpy().tolist() == ids
    assert packed["input_mask"][i].numpy().tolist() == mask
    assert packed["input_type_ids"][i].numpy().tolist() == types
  assert all(t.dtype == tf.int32 for t in packed.values())


def test_pack_inputs_takes_words_of_pieces(uncased):
  full, ours, _ = uncased
  texts = ["The unaffable cat.", "Pretraining BERT on a CPU"]
  packed = text_preprocessing.pack_inputs([ours.tokenize(tf.constant(texts))],
                                          tf.constant(12), full.vocab["[CLS]"],
                                          full.vocab["[SEP]"])
  for i, t in enumerate(texts):
    ids, _, _ = helpers.original_pack(full.tokenize_to_ids(t), None, 12, full.vocab["[CLS]"],
                               full.vocab["[SEP]"])
    np.testing.assert_array_equal(packed["input_word_ids"][i], ids)
