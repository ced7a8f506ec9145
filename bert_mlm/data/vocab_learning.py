"""Learning a WordPiece vocabulary for a new domain or language (create_vocab.py).

  text files --split_words, BasicTokenizer.split_word--> word counts
             --tensorflow-text's WordPiece learner--> vocab.txt in the original's layout

The words are counted after our own BasicTokenizer (cleaning, CJK splitting, lower-casing and
accent stripping with `do_lower_case`, punctuation splitting), so the learner sees exactly the
words FullTokenizer will later cut into pieces. The input is streamed line by line (one count
per distinct whitespace word, then one BasicTokenizer call per distinct word); paths may be
comma-separated lists and globs, local or `gs://`.

The learner (`tensorflow_text.tools.wordpiece_vocab.wordpiece_tokenizer_learner_lib.learn`) finds
by binary search the frequency threshold whose vocabulary comes closest to the target size from
below (within `slack_ratio`): every character of the kept words, with its `##` form, then the
pieces that occur at least that often, most frequent first. The search runs between
`lower_thresh` and `upper_thresh`; when the vocabulary is still short of the size at
`lower_thresh` (a corpus of a few MB), the vocabularies the learner makes at each lower threshold
add their further pieces, down to pieces that occur once, so that the size asked for is reached
wherever the text has that many distinct pieces.

The output has exactly `vocab_size` lines, in the layout of the released BERT vocabularies:

  [PAD], [unused0] .. [unused<N-1>], [UNK], [CLS], [SEP], [MASK], learned tokens, [unused<N>] ..

With the default N = 99 the special tokens have the released vocabularies' ids ([UNK] 100,
[CLS] 101, [SEP] 102, [MASK] 103). When the learner returns fewer tokens than there is room for
(a text with fewer distinct pieces, or the slack), the rest are further `[unusedK]` lines, free
for tokens added by hand (the log says how many the text supplied); when it returns more (the
threshold search ran out of room), the least frequent multi-character pieces are dropped. The
result is deterministic: the same input and options give the same file.
"""

import collections
import dataclasses
import importlib.util
import os
import time

from absl import logging

from bert_mlm.storage import atomic
from bert_mlm.storage import file_io
from bert_mlm import tokenization
from bert_mlm.errors import UsageError

PAD_TOKEN = "[PAD]"
_JOINER = "##"


@dataclasses.dataclass(frozen=True)
class VocabOptions:
  """create_vocab.py's flags: the layout, and the knobs of tensorflow-text's learner."""
  vocab_size: int = 30522
  do_lower_case: bool = True
  num_unused_tokens: int = 99
  # The learner's own parameters (the same names and defaults).
  lower_thresh: int = 10
  upper_thresh: int = 10_000_000
  num_iterations: int = 4
  max_input_tokens: int = 5_000_000
  max_token_length: int = 50
  max_unique_chars: int = 1000
  slack_ratio: float = 0.05

  def validate(self):
    """Raises UsageError naming the first flag whose value can't work."""
    for name in ("lower_thresh", "upper_thresh", "num_iterations", "max_token_length",
                 "max_unique_chars"):
      if getattr(self, name) < 1:
        raise UsageError("--%s=%d must be >= 1." % (name, getattr(self, name)))
    if self.num_unused_tokens < 0:
      raise UsageError("--num_unused_tokens=%d must be >= 0." % self.num_unused_tokens)
    if self.max_input_tokens < 1 and self.max_input_tokens != -1:
      raise UsageError("--max_input_tokens=%d must be >= 1 (or -1 for no limit)."
                       % self.max_input_tokens)
    if self.lower_thresh > self.upper_thresh:
      raise UsageError("--lower_thresh=%d is above --upper_thresh=%d."
                       % (self.lower_thresh, self.upper_thresh))
    if not 0.0 <= self.slack_ratio < 1.0:
      raise UsageError("--slack_ratio=%r must be in [0, 1)." % self.slack_ratio)
    if self.vocab_size <= len(reserved_tokens(self.num_unused_tokens)):
      raise UsageError("--vocab_size=%d leaves no room after the %d special tokens."
                       % (self.vocab_size, len(reserved_tokens(self.num_unused_tokens))))


def reserved_tokens(num_unused_tokens):
  """[PAD], [unused0..N-1], [UNK], [CLS], [SEP], [MASK]: the head of the vocabulary."""
  return ([PAD_TOKEN] + ["[unused%d]" % i for i in range(num_unused_tokens)] +
          [tokenization.UNK_TOKEN, tokenization.CLS_TOKEN, tokenization.SEP_TOKEN,
           tokenization.MASK_TOKEN])


def _load_learner():
  """tensorflow-text's WordPiece learner module, loaded without importing TensorFlow.

  The learner is plain Python (collections and numpy), but importing it through its package runs
  `tensorflow_text/__init__.py`, which imports TensorFlow (slow and large, for nothing here); the
  data side of this project never imports TensorFlow for local files, so the module's file is
  loaded on its own. If the package is laid out differently, the normal import is used.
  """
  spec = importlib.util.find_spec("tensorflow_text")  # locates the package without running it
  if spec is None or not spec.submodule_search_locations:
    raise UsageError("create_vocab.py needs tensorflow-text (pip install tensorflow-text).")
  path = os.path.join(spec.submodule_search_locations[0], "tools", "wordpiece_vocab",
                      "wordpiece_tokenizer_learner_lib.py")
  if os.path.isfile(path):
    module_spec = importlib.util.spec_from_file_location(
        "bert_mlm._tf_text_wordpiece_learner", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
  # pylint: disable-next=g-import-not-at-top
  from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib
  return wordpiece_tokenizer_learner_lib


def count_words(input_files, do_lower_case):
  """{basic token: count} over the text files, streamed line by line.

  Returns:
    (counts: collections.Counter, number of lines read).
  """
  whitespace_words = collections.Counter()
  num_lines = 0
  start = time.time()
  for path in input_files:
    for _, line in file_io.read_text_lines(path):
      whitespace_words.update(tokenization.split_words(line))
      num_lines += 1
    logging.info("Counted the words of %s (%d lines so far, %.1f s).", path, num_lines,
                 time.time() - start)
  basic = tokenization.BasicTokenizer(do_lower_case)
  counts = collections.Counter()
  for word, count in whitespace_words.items():
    for token in basic.split_word(word):
      counts[token] += count
  return counts, num_lines


def _is_character(token):
  """A single character or its `##` form: the learner's guarantee that every kept word can be
  cut into pieces, so never dropped to fit the size."""
  return len(token) == 1 or (token.startswith(_JOINER) and len(token) == len(_JOINER) + 1)


def fit_to_size(learned, reserved, vocab_size):
  """The learner's vocabulary (reserved tokens first) -> exactly `vocab_size` tokens.

  Too few: `[unusedK]` tokens are appended, numbered on from the reserved ones. Too many: the
  last (least frequent) multi-character pieces are dropped.

  Returns:
    (tokens, number of [unusedK] appended, number of pieces dropped).
  """
  tokens = list(reserved) + [t for t in learned if t not in set(reserved)]
  if len(tokens) > vocab_size:
    excess = len(tokens) - vocab_size
    kept_tail = []
    for token in reversed(tokens[len(reserved):]):
      if excess and not _is_character(token):
        excess -= 1
      else:
        kept_tail.append(token)
    if excess:
      raise UsageError("--vocab_size=%d is too small: the special tokens and the %d characters "
                       "of the input need %d." % (vocab_size, len(kept_tail),
                                                  len(reserved) + len(kept_tail)))
    dropped = len(tokens) - vocab_size
    return list(reserved) + kept_tail[::-1], 0, dropped
  used = {t for t in tokens if t.startswith("[unused")}
  fill = []
  index = sum(1 for t in reserved if t.startswith("[unused"))
  while len(tokens) + len(fill) < vocab_size:
    token = "[unused%d]" % index
    if token not in used:
      fill.append(token)
    index += 1
  return tokens + fill, len(fill), 0


def learn_vocab(counts, options):
  """Word counts -> the vocabulary's tokens (exactly options.vocab_size, see module docstring)."""
  learner = _load_learner()
  reserved = reserved_tokens(options.num_unused_tokens)
  # Most frequent first, ties by the word: the learner's cut at max_input_tokens (a stable sort
  # by count) then depends on the words alone, not on the order they were read in.
  word_counts = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  if not word_counts:
    raise UsageError("--input_file: the input files hold no words.")

  def learn(lower_thresh, upper_thresh):
    return learner.learn(
        word_counts, vocab_size=options.vocab_size, reserved_tokens=reserved,
        upper_thresh=upper_thresh, lower_thresh=lower_thresh,
        num_iterations=options.num_iterations, max_input_tokens=options.max_input_tokens,
        max_token_length=options.max_token_length, max_unique_chars=options.max_unique_chars,
        slack_ratio=options.slack_ratio, include_joiner_token=True, joiner=_JOINER)

  learned = learn(options.lower_thresh, options.upper_thresh)
  lowest_thresh = options.lower_thresh  # the lowest threshold whose pieces are in `learned`
  if (len(learned) < options.vocab_size * (1.0 - options.slack_ratio)
      and options.lower_thresh > 1):
    # Short of the size at the lowest threshold searched: the text's rarer pieces make up the
    # rest. Each lower threshold's vocabulary adds the pieces it has beyond those already kept,
    # down to pieces that occur once, until the size is reached (fit_to_size trims the last
    # threshold's least frequent). Learning at threshold 1 alone would give about as many
    # pieces, but cut held-out words into more of them: its refinement, counting every piece
    # seen once, keeps fragments in place of the words that higher thresholds keep whole.
    logging.info("%d tokens at --lower_thresh=%d, short of --vocab_size=%d; adding the pieces "
                 "of the thresholds below.", len(learned) - len(reserved), options.lower_thresh,
                 options.vocab_size)
    kept = set(learned)
    for thresh in range(options.lower_thresh - 1, 0, -1):
      if len(learned) >= options.vocab_size:
        break
      added = [token for token in learn(thresh, thresh) if token not in kept]
      lowest_thresh = thresh
      learned += added
      kept.update(added)
      logging.info("Threshold %d adds %d pieces (%d tokens).", thresh, len(added),
                   len(learned) - len(reserved))
  tokens, num_filled, num_dropped = fit_to_size(learned, reserved, options.vocab_size)
  logging.info("Learned %d tokens (beside %d special); %d [unusedK] appended, %d less frequent "
               "pieces dropped to fit --vocab_size=%d.",
               len(tokens) - len(reserved) - num_filled, len(reserved), num_filled, num_dropped,
               options.vocab_size)
  if num_filled and lowest_thresh == 1:
    logging.info("The text has no further pieces (down to pieces seen once): %d [unusedK] fill "
                 "the rest.", num_filled)
  elif num_filled:
    logging.info("Within --slack_ratio=%g of the size: %d [unusedK] fill the rest.",
                 options.slack_ratio, num_filled)
  return tokens


def coverage(tokenizer, lines):
  """How well a vocabulary covers text: ([UNK] rate, WordPiece tokens per word, words).

  A word is a basic token (what WordPiece cuts); the [UNK] rate is the fraction of words that
  become [UNK] (FullTokenizer replaces a whole word by one [UNK]).

  Args:
    tokenizer: a tokenization.FullTokenizer with the vocabulary to measure.
    lines: iterable of text lines.
  """
  unk_id = tokenizer.vocab[tokenization.UNK_TOKEN]
  basic = tokenizer.basic_tokenizer
  num_words = num_tokens = num_unknown = 0
  for line in lines:
    for word in tokenization.split_words(line):
      num_words += len(basic.split_word(word))
    ids = tokenizer.tokenize_to_ids(line)
    num_tokens += len(ids)
    num_unknown += ids.count(unk_id)
  if not num_words:
    return 0.0, 0.0, 0
  return num_unknown / num_words, num_tokens / num_words, num_words


def create_vocab(input_file, output_file, options):
  """The whole job: comma-separated input patterns -> `output_file`, written atomically.

  Returns:
    The tokens written.
  """
  options.validate()
  input_files = file_io.expand_patterns(input_file)
  with atomic.AtomicOutputs([output_file]) as (output,):
    start = time.time()
    counts, num_lines = count_words(input_files, options.do_lower_case)
    logging.info("%d lines, %d words, %d distinct basic tokens (%.1f s).", num_lines,
                 sum(counts.values()), len(counts), time.time() - start)
    tokens = learn_vocab(counts, options)
    logging.info("Learning took %.1f s.", time.time() - start)
    output.write("".join(token + "\n" for token in tokens).encode("utf-8"))
  return tokens
