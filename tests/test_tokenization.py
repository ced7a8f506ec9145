"""FullTokenizer: the same tokens as the original's on every input, and clear errors."""

import random

import pytest

from bert_mlm.errors import UsageError
from bert_mlm import tokenization
from tests.reference import original


def _lines(*paths):
  lines = []
  for path in paths:
    with open(path, "rb") as f:
      lines.extend(raw.decode("utf-8") for raw in f)
  return lines


# Characters that exercise every branch of the original's cleaning and splitting.
_TRICKY = (
    "abcXYZ019 .,;:!?'\"$^~`|\\/@#%&*()[]{}<>-_=+"  # ASCII, including symbols that are not P*
    "\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2009\u2028\u2029\u202f\u3000"  # whitespace kinds
    "\x00\x01\x7f\u200b\u200d\u00ad\ufeff\ufffd\ue000\U000f0000\u0378"  # control, format, PUA
    "éñüÅçøß\u0301\u0308\u0327İıŉǅﬁ"  # accents, combining marks, case oddities
    "中文字漢㐀𠀀\U0002A700\uf900\u3001\u3002「」"  # CJK ideographs and CJK punctuation
    "한국어ひらがなカタカナＡＢＣ１２"  # Hangul, kana, fullwidth
    "αβγΩжЖ\u0905\u093f\u0627\u064e😀𝕏∑≤€£¥§¶•…–—‘’“”«»¿¡")


def _random_texts(seed, count):
  rng = random.Random(seed)
  texts = []
  for _ in range(count):
    length = rng.randint(0, 60)
    texts.append("".join(rng.choice(_TRICKY) for _ in range(length)))
  # Words at and around the 200-character limit, with and without accents.
  for n in (199, 200, 201, 250):
    texts.append("a" * n)
    texts.append("x " + "é" * n + " y")
  return texts


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_matches_original_on_corpora_and_random_text(
    do_lower_case, minilm_vocab, english_corpus, multilingual_corpus, sample_corpus):
  ours = tokenization.FullTokenizer(minilm_vocab, do_lower_case=do_lower_case)
  theirs = original.original_tokenizer(minilm_vocab, do_lower_case=do_lower_case)
  texts = _lines(english_corpus, multilingual_corpus, sample_corpus)[:6000]
  texts += _random_texts(seed=int(do_lower_case), count=3000)
  mismatches = [(t, ours.tokenize(t), theirs.tokenize(t)) for t in texts
                if ours.tokenize(t) != theirs.tokenize(t)]
  assert not mismatches[:5]
  for text in texts[:2000]:
    tokens = theirs.tokenize(text)
    assert ours.tokenize_to_ids(text) == theirs.convert_tokens_to_ids(tokens)


def test_matches_original_with_sample_vocab(sample_vocab, sample_corpus, multilingual_corpus):
  ours = tokenization.FullTokenizer(sample_vocab)
  theirs = original.original_tokenizer(sample_vocab)
  for text in _lines(sample_corpus, multilingual_corpus)[:3000] + _random_texts(7, 500):
    assert ours.tokenize(text) == theirs.tokenize(text), text


def test_preserve_unused_tokens_matches_original(minilm_vocab):
  ours = tokenization.FullTokenizer(minilm_vocab, preserve_unused_tokens=True)
  theirs = original.original_tokenizer(minilm_vocab, preserve_unused_tokens=True)
  try:
    for text in ["a [unused0] b", "[unused12]x [UNUSED1] [unused99999] ([unused3])",
                 "[unused5][unused6] [unused7]."]:
      assert ours.tokenize(text) == theirs.tokenize(text)
    assert ours.tokenize("a [unused0] b") == ["a", "[unused0]", "b"]
  finally:
    original.original_tokenizer(minilm_vocab, preserve_unused_tokens=False)


def test_documented_behaviours(minilm_vocab):
  tok = tokenization.FullTokenizer(minilm_vocab)
  assert tok.tokenize("Héllo\u00a0WORLD\x00\ufffd!") == ["hello", "world", "!"]
  assert tok.tokenize("中文") == ["中", "文"]
  assert tok.tokenize("$5^2") == ["$", "5", "^", "2"]
  assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]
  assert tok.tokenize("a" * 201) == ["[UNK]"]
  cased = tokenization.FullTokenizer(minilm_vocab, do_lower_case=False)
  assert cased.tokenize("Hello") == ["[UNK]"]  # the uncased vocab has no "Hello"


def _write(path, data):
  with open(path, "wb") as f:
    f.write(data)
  return str(path)


def test_load_vocab_ids_are_line_numbers(tmp_path):
  vocab = tokenization.load_vocab(_write(tmp_path / "v.txt", b"[PAD]\n a \r\nb\n##c"))
  assert list(vocab.items()) == [("[PAD]", 0), ("a", 1), ("b", 2), ("##c", 3)]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"a\nb\na\n", "v.txt:3: vocabulary token 'a' already appears on line 1"),
    (b"a\n\xff\xfe\n", "v.txt:2: not valid UTF-8"),
])
def test_load_vocab_errors(tmp_path, content, message):
  with pytest.raises(ValueError, match=message):
    tokenization.load_vocab(_write(tmp_path / "v.txt", content))


def test_load_vocab_missing_file(tmp_path):
  with pytest.raises(UsageError, match="nope.txt"):
    tokenization.load_vocab(str(tmp_path / "nope.txt"))
