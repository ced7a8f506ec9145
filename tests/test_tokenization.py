"""FullTokenizer: the same tokens as the original's on every input, and clear errors."""


import pytest

from bert_mlm.errors import UsageError
from bert_mlm import tokenization
from reference import original
from reference import tricky_text
from tests import helpers


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_matches_original_on_corpora_and_random_text(
    do_lower_case, minilm_vocab, english_corpus, multilingual_corpus, sample_corpus):
  ours = tokenization.FullTokenizer(minilm_vocab, do_lower_case=do_lower_case)
  theirs = original.original_tokenizer(minilm_vocab, do_lower_case=do_lower_case)
  texts = helpers.text_lines(english_corpus, multilingual_corpus, sample_corpus)[:6000]
  texts += tricky_text.random_texts(seed=int(do_lower_case), count=3000)
  mismatches = [(t, ours.tokenize(t), theirs.tokenize(t)) for t in texts
                if ours.tokenize(t) != theirs.tokenize(t)]
  assert not mismatches[:5]
  for text in texts[:2000]:
    tokens = theirs.tokenize(text)
    assert ours.tokenize_to_ids(text) == theirs.convert_tokens_to_ids(tokens)


def test_matches_original_with_sample_vocab(sample_vocab, sample_corpus, multilingual_corpus):
  ours = tokenization.FullTokenizer(sample_vocab)
  theirs = original.original_tokenizer(sample_vocab)
  texts = helpers.text_lines(sample_corpus, multilingual_corpus)[:3000]
  for text in texts + tricky_text.random_texts(7, 500):
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


# The original module's own unit tests, restated against ours: code written for the original's
# `tokenization` module runs with `from bert_mlm import tokenization` and nothing else changed.

_DROP_IN_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "play", "##play", "##ed", "pl", "re", "sing",
                  "##ing", ",", "."]


def test_drop_in_full_tokenizer(tmp_path):
  path = str(tmp_path / "vocab.txt")
  with open(path, "wb") as f:  # as the original's test writes it: bytes, one token a line
    f.write("".join(t + "\n" for t in _DROP_IN_VOCAB).encode("utf-8"))
  tokenizer = tokenization.FullTokenizer(path)
  tokens = tokenizer.tokenize(u"RE\u00C9played singing,")
  # Lower-cased and accent-stripped to "reeplayed", which no pieces cover: the word is [UNK].
  assert tokens == ["[UNK]", "sing", "##ing", ","]
  tokens = tokenizer.tokenize(u"REplayed singing,")
  assert tokens == ["re", "##play", "##ed", "sing", "##ing", ","]
  assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 8, 9, 10]
  assert tokenizer.convert_ids_to_tokens([7, 0, 3]) == ["re", "[UNK]", "play"]
  assert tokenizer.vocab["##ed"] == 5 and tokenizer.inv_vocab[5] == "##ed"


def test_drop_in_chinese_characters_are_words():
  assert tokenization.BasicTokenizer().tokenize(u"ok\u4E2D\u6587go") == [
      u"ok", u"\u4E2D", u"\u6587", u"go"]


def test_drop_in_basic_tokenizer_lower():
  assert tokenization.BasicTokenizer(do_lower_case=True).tokenize(
      u" \tWoRlD!wide  \n Web?  ") == ["world", "!", "wide", "web", "?"]
  assert tokenization.BasicTokenizer(do_lower_case=True).tokenize(u"Caf\u00E9") == ["cafe"]


def test_drop_in_basic_tokenizer_no_lower():
  assert tokenization.BasicTokenizer(do_lower_case=False).tokenize(
      u" \tWoRlD!wide  \n Web?  ") == ["WoRlD", "!", "wide", "Web", "?"]


def test_drop_in_wordpiece_tokenizer():
  vocab = {token: i for i, token in enumerate(_DROP_IN_VOCAB)}
  tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
  assert tokenizer.tokenize("") == []
  assert tokenizer.tokenize("replayed singing") == ["re", "##play", "##ed", "sing", "##ing"]
  assert tokenizer.tokenize("replayedZ singing") == ["[UNK]", "sing", "##ing"]


def test_drop_in_module_level_conversions():
  vocab = {token: i for i, token in enumerate(_DROP_IN_VOCAB)}
  inv_vocab = {i: token for token, i in vocab.items()}
  tokens = ["re", "##play", "##ed", "sing", "##ing"]
  assert tokenization.convert_tokens_to_ids(vocab, tokens) == [7, 4, 5, 8, 9]
  assert tokenization.convert_ids_to_tokens(inv_vocab, [7, 4, 5, 8, 9]) == tokens
  assert tokenization.convert_by_vocab(vocab, ["play"]) == [3]
  assert tokenization.whitespace_tokenize(u"  a b\tc\n") == ["a", "b", "c"]
  assert tokenization.whitespace_tokenize(u"   ") == []
  assert tokenization.convert_to_unicode(b"caf\xc3\xa9") == u"caf\u00e9"
  assert tokenization.printable_text(b"ok") == "ok"
  with pytest.raises(ValueError):
    tokenization.convert_to_unicode(3)


def test_drop_in_character_classes():
  for char in (u" ", u"\t", u"\r", u"\n", u"\u00A0"):
    assert tokenization._is_whitespace(char)  # pylint: disable=protected-access
  for char in (u"A", u"-"):
    assert not tokenization._is_whitespace(char)  # pylint: disable=protected-access
  assert tokenization._is_control(u"\u0005")  # pylint: disable=protected-access
  for char in (u"A", u" ", u"\t", u"\r", u"\U0001F4A9"):
    assert not tokenization._is_control(char)  # pylint: disable=protected-access
  for char in (u"-", u"$", u"`", u"."):
    assert tokenization._is_punctuation(char)  # pylint: disable=protected-access
  for char in (u"A", u" "):
    assert not tokenization._is_punctuation(char)  # pylint: disable=protected-access


def test_drop_in_validate_case_matches_checkpoint():
  tokenization.validate_case_matches_checkpoint(True, "/m/uncased_L-12_H-768_A-12/bert_model.ckpt")
  tokenization.validate_case_matches_checkpoint(False, "/m/cased_L-12_H-768_A-12/bert_model.ckpt")
  tokenization.validate_case_matches_checkpoint(False, "/m/my_model/bert_model.ckpt")  # unknown
  tokenization.validate_case_matches_checkpoint(True, None)
  with pytest.raises(ValueError, match="--do_lower_case=True"):
    tokenization.validate_case_matches_checkpoint(
        False, "gs://b/multilingual_L-12_H-768_A-12/bert_model.ckpt")
  with pytest.raises(ValueError, match="--do_lower_case=False"):
    tokenization.validate_case_matches_checkpoint(
        True, "/m/multi_cased_L-12_H-768_A-12/bert_model.ckpt")
