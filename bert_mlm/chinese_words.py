"""Chinese words for whole-word masking (create_pretraining_data.py --chinese_whole_word_mask).

FullTokenizer makes every CJK character a token of its own, so no Chinese token starts with `##`
and the original's whole-word masking masks single characters. Chinese BERT-wwm masks the words
of a word segmenter instead: a CJK character that continues a word (one directly after another
CJK character of the same word) is grouped with the token before it, as if it were a `##` piece,
for masking only; its id and label stay the plain character's.

Word boundaries come from one of two `SEGMENTERS`:

  jieba       `jieba.cut(line)` at its defaults (HMM on), on each stripped input line;
  whitespace  the text is already segmented: whitespace between two CJK characters is a word
              boundary, two adjacent CJK characters are in one word. (FullTokenizer drops those
              spaces, so the tokens are those of the unsegmented text.)

`WordMarkingTokenizer.tokenize_to_ids` gives the line's token ids (exactly FullTokenizer's) with
each continuing character's id marked: `vocab_size + id`. The marks travel with the ids through
instance building untouched (`create_pretraining_data.py` draws nothing differently) and are
taken off when an instance is masked or written (`MaskedLmMasker`, `unmasked_examples.py`).

jieba is an optional dependency (`pip install -e .[zh]`); only this module imports it.
"""

import logging as python_logging
import re
import time

from absl import logging

from bert_mlm import tokenization
from bert_mlm.errors import UsageError

SEGMENTERS = ("jieba", "whitespace")

# The code points FullTokenizer pads as CJK ideographs (tokenization._is_chinese_char).
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_CJK = "[%s]" % "".join("%s-%s" % (chr(a), chr(b)) for a, b in _CJK_RANGES)
# A CJK character directly after another: the only characters that can continue a word.
_CJK_AFTER_CJK = re.compile("(?<=%s)%s" % (_CJK, _CJK))


def is_cjk(char):
  """Whether FullTokenizer makes `char` a token of its own as a CJK ideograph."""
  return tokenization._is_chinese_char(ord(char))  # pylint: disable=protected-access


def check_segmenter(name):
  """Raises UsageError unless `name` is one of SEGMENTERS and usable here (jieba installed)."""
  if name not in SEGMENTERS:
    raise UsageError("--chinese_whole_word_mask=%s: must be one of %s (or empty for none)."
                     % (name, ", ".join(SEGMENTERS)))
  if name == "jieba":
    _import_jieba()


def _import_jieba():
  try:
    import jieba  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise UsageError("--chinese_whole_word_mask=jieba needs jieba, which is not installed: "
                     "pip install -e '.[zh]' (or pip install jieba==0.42.1).") from None
  return jieba


def initialize(name):
  """Loads what segmenter `name` needs (jieba: its dictionary), once per process; worker
  processes forked afterwards share it."""
  if name != "jieba":
    return
  jieba = _import_jieba()
  if jieba.dt.initialized:
    return
  start = time.time()
  jieba.setLogLevel(python_logging.WARNING)  # its own logger announces every step on stderr
  jieba.initialize()
  logging.info("Loaded jieba's dictionary in %.1f s.", time.time() - start)


class _JiebaContinuations(object):
  """Positions of the CJK characters of a line that continue a `jieba.cut(line)` word.

  jieba.cut splits the line into blocks at every character outside `jieba.re_han_default` (CJK
  U+4E00..U+9FD5, ASCII letters and digits, +#&._%-), and segments each block on its own, from
  the block alone (its DAG and HMM see nothing else). So a block without two adjacent CJK
  characters can't hold a continuing character and is not segmented at all (nor is a line
  without them: text with no Chinese costs next to nothing), and the blocks segmented give
  exactly jieba.cut(line)'s words. (A cache of segmented blocks saved nothing measurable: in
  Chinese prose few clauses repeat; benchmarks/README.md.)
  """

  def __init__(self):
    jieba = _import_jieba()
    initialize("jieba")
    self._cut = jieba.cut
    self._blocks = jieba.re_han_default

  def _segment(self, block):
    """Offsets in `block` of its continuing characters."""
    offsets = []
    start = 0
    for word in self._cut(block):
      for k in range(1, len(word)):
        if is_cjk(word[k]) and is_cjk(word[k - 1]):
          offsets.append(start + k)
      start += len(word)
    if start != len(block):
      raise AssertionError("jieba.cut's words don't make up %r" % block)
    return offsets

  def __call__(self, line):
    if not _CJK_AFTER_CJK.search(line):
      return []
    positions = []
    for match in self._blocks.finditer(line):
      block = match.group()
      if _CJK_AFTER_CJK.search(block):
        start = match.start()
        positions += [start + offset for offset in self._segment(block)]
    return positions


def _whitespace_continuations(line):
  """Positions of the CJK characters of a line directly after another CJK character."""
  return [match.start() for match in _CJK_AFTER_CJK.finditer(line)]


class WordMarkingTokenizer(object):
  """FullTokenizer's ids of a line, with the characters that continue a word marked.

  Attributes:
    vocab_size: the mark: a continuing character's id is vocab_size + its token's id.
  """

  def __init__(self, tokenizer, segmenter):
    """tokenizer: a tokenization.FullTokenizer; segmenter: one of SEGMENTERS."""
    check_segmenter(segmenter)
    self._tokenize = tokenizer.tokenize_to_ids
    self.vocab_size = len(tokenizer.vocab)
    self._continuations = (_JiebaContinuations() if segmenter == "jieba"
                           else _whitespace_continuations)
    self._marked_ids = {}  # CJK character -> its marked id

  def _marked_id(self, char):
    marked = self._marked_ids.get(char)
    if marked is None:
      (token_id,) = self._tokenize(char)  # a CJK character is always exactly one token
      marked = self._marked_ids[char] = self.vocab_size + token_id
    return marked

  def tokenize_to_ids(self, line):
    """Text -> FullTokenizer's ids, those of continuing CJK characters plus vocab_size.

    Every CJK character is a word of its own to FullTokenizer (padded with spaces before the
    split on whitespace), so the line's ids are the ids of the text between the continuing
    characters and of those characters, in order.
    """
    positions = self._continuations(line)
    if not positions:
      return self._tokenize(line)
    tokenize = self._tokenize
    ids = []
    start = 0
    for position in positions:
      if position > start:
        ids += tokenize(line[start:position])
      ids.append(self._marked_id(line[position]))
      start = position + 1
    ids += tokenize(line[start:])
    return ids


def unmark(ids, vocab_size):
  """The plain ids of ids that may be marked (`vocab_size + id`)."""
  return [i - vocab_size if i >= vocab_size else i for i in ids]


def continuation_flags(ids, vocab_size):
  """1 where an id is marked (its character continues the word before it), else 0."""
  return [1 if i >= vocab_size else 0 for i in ids]
