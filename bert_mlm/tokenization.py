"""WordPiece tokenization that reproduces the original BERT `FullTokenizer` exactly.

The original pipeline, per line of text:
  1. clean: drop U+0000, U+FFFD and control characters (Unicode Cc/Cf except tab, newline and
     carriage return); turn whitespace (space, \\t, \\n, \\r, Unicode Zs) into a space;
  2. pad each CJK ideograph with spaces so that it becomes a word of its own;
  3. split on whitespace (Python's `str.split()`);
  4. per word: optionally lower-case and strip accents (NFD, drop Unicode Mn), then split every
     punctuation character (ASCII symbols such as `$` and `^`, Unicode P*) into its own token;
  5. per token: greedy longest-match-first WordPiece with `##` continuation pieces; a token longer
     than 200 characters, or one that cannot be covered by vocabulary pieces, becomes `[UNK]`.

Steps 1-2 are a per-character map and steps 4-5 depend on nothing but the word, so this module
runs step 1-2 as one `str.translate` with a lazily filled table and caches the result of 4-5 per
word. The output is the same token for token; only the repeated work is gone.

`preserve_unused_tokens` is the option of the PyPI release (`bert-tensorflow` 1.0.4): a word that
is literally `[unusedN]` and in the vocabulary is kept whole instead of being split.
"""

import collections
import re
import unicodedata

from bert_mlm.storage import file_io
from bert_mlm.errors import UsageError

UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"

_MAX_INPUT_CHARS_PER_WORD = 200
_UNUSED_TOKEN_RE = re.compile(r"^\[unused\d+\]$")
# Per-word cache size before it is cleared; a multi-gigabyte corpus has far fewer distinct words
# in any stretch of text, and clearing bounds memory without changing any output.
_MAX_CACHED_WORDS = 1 << 19


def convert_to_unicode(text):
  """Returns `text` as `str`, decoding bytes as UTF-8 and dropping invalid bytes (as the original)."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % type(text))


def printable_text(text):
  """Returns `text` in a form suitable for logging."""
  return convert_to_unicode(text)


def load_vocab(vocab_file):
  """Reads a vocabulary file (one token per line) into an ordered {token: id} dict.

  The id of a token is its line number (0-based). Lines are split on '\\n' only and stripped of
  surrounding whitespace, as the original reads them. A token that appears twice is an error: the
  original's two versions disagree on which id it gets (the released vocabularies have none).

  Raises:
    UsageError: the file does not exist, is empty, is not UTF-8, or repeats a token (naming
      the lines).
  """
  vocab = collections.OrderedDict()
  for line_number, line in file_io.read_text_lines(vocab_file):
    token = line.strip()
    if token in vocab:
      raise UsageError(
          "%s:%d: vocabulary token %r already appears on line %d; each token must appear once."
          % (vocab_file, line_number, token, vocab[token] + 1))
    vocab[token] = len(vocab)
  if not vocab:
    raise UsageError("%s: the vocabulary file is empty." % vocab_file)
  return vocab


def require_tokens(vocab, tokens, vocab_file):
  """Raises UsageError naming `vocab_file` if any of `tokens` is missing from `vocab`."""
  missing = [t for t in tokens if t not in vocab]
  if missing:
    raise UsageError("%s: the vocabulary lacks the special token(s) %s, which BERT needs."
                     % (vocab_file, ", ".join(missing)))


def convert_by_vocab(vocab, items):
  """Maps each item through `vocab` (tokens -> ids or ids -> tokens)."""
  return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
  """Token strings -> ids through a {token: id} vocabulary."""
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  """Ids -> token strings through an {id: token} inverse vocabulary."""
  return convert_by_vocab(inv_vocab, ids)


# The released checkpoints' directory names and whether their text was lower-cased.
_RELEASED_MODEL_CASING = {
    "uncased_L-24_H-1024_A-16": True,
    "uncased_L-12_H-768_A-12": True,
    "multilingual_L-12_H-768_A-12": True,
    "chinese_L-12_H-768_A-12": True,
    "cased_L-12_H-768_A-12": False,
    "cased_L-24_H-1024_A-16": False,
    "multi_cased_L-12_H-768_A-12": False,
}
_RELEASED_CHECKPOINT_RE = re.compile(r"^.*?([A-Za-z0-9_-]+)/bert_model\.ckpt")


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Raises UsageError when `do_lower_case` contradicts a released checkpoint's casing.

  Only checkpoints under their released directory names (`.../uncased_L-12_H-768_A-12/
  bert_model.ckpt`) are recognised; anything else passes, since its casing cannot be known.
  """
  if not init_checkpoint:
    return
  match = _RELEASED_CHECKPOINT_RE.match(init_checkpoint)
  if match is None:
    return
  model_name = match.group(1)
  lower_cased = _RELEASED_MODEL_CASING.get(model_name)
  if lower_cased is None or lower_cased == bool(do_lower_case):
    return
  flag, other = ("False", "True") if lower_cased else ("True", "False")
  raise UsageError(
      "You passed in `--do_lower_case=%s` with `--init_checkpoint=%s`. %s is a %s model, so "
      "the text must%s be lower-cased: pass `--do_lower_case=%s` (or, if this checkpoint really "
      "is %s, rename its directory)." % (flag, init_checkpoint, model_name,
                                        "lower-cased" if lower_cased else "cased",
                                        "" if lower_cased else " not", other,
                                        "cased" if lower_cased else "uncased"))


def whitespace_tokenize(text):
  """Splits `text` on whitespace, as `str.split()` does."""
  return text.split()


def _is_whitespace(char):
  if char in (" ", "\t", "\n", "\r"):
    return True
  return unicodedata.category(char) == "Zs"


def _is_control(char):
  if char in ("\t", "\n", "\r"):
    return False
  return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
  cp = ord(char)
  # All non-letter, non-digit ASCII characters count as punctuation, Unicode category or not.
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
  """Whether `cp` is in a CJK Unified Ideographs block (not Hangul, kana or CJK punctuation)."""
  return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
          0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
          0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class _CharMap(dict):
  """`str.translate` table for cleaning and CJK padding, filled on first sight of each character."""

  def __missing__(self, cp):
    char = chr(cp)
    if cp == 0 or cp == 0xFFFD or _is_control(char):
      mapped = None
    elif _is_whitespace(char):
      mapped = " "
    elif _is_chinese_char(cp):
      mapped = " %s " % char
    else:
      mapped = char
    self[cp] = mapped
    return mapped


_CHAR_MAP = _CharMap()


def _strip_accents(text):
  return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _split_on_punctuation(text):
  pieces = []
  start_new_word = True
  for char in text:
    if _is_punctuation(char):
      pieces.append(char)
      start_new_word = True
    else:
      if start_new_word:
        pieces.append(char)
      else:
        pieces[-1] += char
      start_new_word = False
  return pieces


def split_words(text):
  """Steps 1-3: cleaned text split on whitespace, each CJK ideograph a word of its own.

  The words that `BasicTokenizer.split_word` takes (and FullTokenizer caches): a vocabulary
  learner that counts these sees the words FullTokenizer will see.
  """
  return convert_to_unicode(text).translate(_CHAR_MAP).split()


class BasicTokenizer(object):
  """Cleaning, CJK splitting, optional lower-casing/accent stripping, punctuation splitting."""

  def __init__(self, do_lower_case=True, vocab=(), preserve_unused_tokens=False):
    self.do_lower_case = do_lower_case
    self.vocab = vocab
    self.preserve_unused_tokens = preserve_unused_tokens

  def preserves(self, word):
    """Whether `word` is an `[unusedN]` vocabulary token kept whole."""
    return (self.preserve_unused_tokens and word in self.vocab and
            _UNUSED_TOKEN_RE.search(word) is not None)

  def split_word(self, word):
    """Basic tokens of one whitespace-free word of cleaned text."""
    if self.preserves(word):
      return [word]
    if self.do_lower_case:
      word = _strip_accents(word.lower())
    return " ".join(_split_on_punctuation(word)).split()

  def tokenize(self, text):
    tokens = []
    for word in convert_to_unicode(text).translate(_CHAR_MAP).split():
      tokens.extend(self.split_word(word))
    return tokens


class WordpieceTokenizer(object):
  """Greedy longest-match-first WordPiece over a vocabulary."""

  def __init__(self, vocab, unk_token=UNK_TOKEN, max_input_chars_per_word=_MAX_INPUT_CHARS_PER_WORD):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    # No piece longer than the longest vocabulary entry can match, so the search starts there.
    self._max_piece_chars = max((len(t) for t in vocab), default=0)

  def tokenize_token(self, token):
    """WordPiece pieces of one basic token (no whitespace inside)."""
    if len(token) > self.max_input_chars_per_word:
      return [self.unk_token]
    vocab = self.vocab
    pieces = []
    start = 0
    while start < len(token):
      prefix = "##" if start > 0 else ""
      end = min(len(token), start + self._max_piece_chars - len(prefix))
      piece = None
      while start < end:
        candidate = prefix + token[start:end]
        if candidate in vocab:
          piece = candidate
          break
        end -= 1
      if piece is None:
        return [self.unk_token]
      pieces.append(piece)
      start = end
    return pieces

  def tokenize(self, text):
    tokens = []
    for token in whitespace_tokenize(convert_to_unicode(text)):
      tokens.extend(self.tokenize_token(token))
    return tokens


class FullTokenizer(object):
  """The original end-to-end tokenizer: BasicTokenizer then WordPiece, cached per word.

  Attributes:
    vocab: ordered {token: id}.
    inv_vocab: {id: token}.
  """

  def __init__(self, vocab_file=None, do_lower_case=True, preserve_unused_tokens=False,
               vocab=None):
    if (vocab_file is None) == (vocab is None):
      raise ValueError("Pass exactly one of vocab_file and vocab.")
    self.vocab = load_vocab(vocab_file) if vocab is None else vocab
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.basic_tokenizer = BasicTokenizer(do_lower_case, self.vocab, preserve_unused_tokens)
    self.wordpiece_tokenizer = WordpieceTokenizer(self.vocab)
    self._word_tokens = {}
    self._word_ids = {}

  def _tokens_of_word(self, word):
    tokens = self._word_tokens.get(word)
    if tokens is None:
      tokens = []
      for basic_token in self.basic_tokenizer.split_word(word):
        if self.basic_tokenizer.preserves(basic_token):
          tokens.append(basic_token)
        else:
          tokens.extend(self.wordpiece_tokenizer.tokenize_token(basic_token))
      tokens = tuple(tokens)
      if len(self._word_tokens) >= _MAX_CACHED_WORDS:
        self._word_tokens.clear()
      self._word_tokens[word] = tokens
    return tokens

  def tokenize(self, text):
    """Text -> list of WordPiece token strings."""
    tokens = []
    for word in convert_to_unicode(text).translate(_CHAR_MAP).split():
      tokens.extend(self._tokens_of_word(word))
    return tokens

  def tokenize_to_ids(self, text):
    """Text -> list of token ids; the same as convert_tokens_to_ids(tokenize(text)), faster.

    Raises:
      KeyError: a token (only ever `[UNK]`) is missing from the vocabulary.
    """
    ids = []
    cache = self._word_ids
    for word in text.translate(_CHAR_MAP).split():
      word_ids = cache.get(word)
      if word_ids is None:
        word_ids = tuple(self.vocab[t] for t in self._tokens_of_word(word))
        if len(cache) >= _MAX_CACHED_WORDS:
          cache.clear()
        cache[word] = word_ids
      ids += word_ids
    return ids

  def convert_tokens_to_ids(self, tokens):
    return convert_tokens_to_ids(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    return convert_ids_to_tokens(self.inv_vocab, ids)
