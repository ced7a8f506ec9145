"""Pretraining data as the original `create_pretraining_data.py` makes it, example for example.

  text files --read_documents--> documents: [document][sentence][token id]
             --create_training_instances--> instances (NSP pairs, masked LM predictions), shuffled
             --write_instances--> TFRecords, round-robin over the output files

Faithfulness rests on one `random.Random(random_seed)` drawn exactly as the original draws it:
the same calls, with the same arguments, in the same order. Everything else works on token ids
instead of token strings, which gives the same examples with far less memory and time.

Each example has the original's features (`schema`), padded with zeros.
"""

import dataclasses
import random
import time

from absl import logging

from bert_mlm import chinese_words
from bert_mlm.storage import atomic
from bert_mlm.storage import file_io
from bert_mlm import progress
from bert_mlm import schema
from bert_mlm.storage import tfrecord
from bert_mlm import tokenization
from bert_mlm import unmasked_examples
from bert_mlm.errors import UsageError

_NUM_LOGGED_EXAMPLES = 20
# Progress lines, at most every _PROGRESS_SECONDS, for inputs of at least _PROGRESS_MIN_BYTES;
# characters read between two looks at the clock.
_PROGRESS_SECONDS = 30.0
_PROGRESS_MIN_BYTES = 4 * 10**6
_PROGRESS_CHECK_CHARS = 10**6
# [CLS] A [SEP] B [SEP] with at least one token in A and in B.
_MIN_SEQ_LENGTH = 5


def check_masked_lm_prob(masked_lm_prob):
  """Raises UsageError unless 0 < masked_lm_prob <= 1 (here and for --dynamic_masking)."""
  if not 0.0 < masked_lm_prob <= 1.0:
    raise UsageError("--masked_lm_prob=%r must be in (0, 1]." % masked_lm_prob)


@dataclasses.dataclass(frozen=True)
class DataOptions:
  """The original's data-creation flags (same names and defaults)."""
  do_lower_case: bool = True
  do_whole_word_mask: bool = False
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  random_seed: int = 12345
  dupe_factor: int = 10
  masked_lm_prob: float = 0.15
  short_seq_prob: float = 0.1
  preserve_unused_tokens: bool = False
  # Not in the original: write the NSP instances unmasked (unmasked_examples.py); the input
  # pipeline masks each batch (run_pretraining.py --dynamic_masking).
  dynamic_masking: bool = False
  # Not in the original: whole-word masking with Chinese words (chinese_words.py): "jieba"
  # segments each line, "whitespace" takes words already separated by spaces; None: off.
  # Implies do_whole_word_mask.
  chinese_whole_word_mask: str = None

  @property
  def whole_word_mask(self):
    """Whether candidates are whole words (`##` pieces, and Chinese words if asked for)."""
    return self.do_whole_word_mask or bool(self.chinese_whole_word_mask)

  def validate(self):
    """Raises UsageError naming the first flag whose value can't work."""
    if self.max_seq_length < _MIN_SEQ_LENGTH:
      raise UsageError(
          "--max_seq_length=%d is too small: [CLS] A [SEP] B [SEP] needs at least %d positions."
          % (self.max_seq_length, _MIN_SEQ_LENGTH))
    if self.max_predictions_per_seq < 0:
      raise UsageError("--max_predictions_per_seq=%d must be >= 0." % self.max_predictions_per_seq)
    check_masked_lm_prob(self.masked_lm_prob)
    if not 0.0 <= self.short_seq_prob <= 1.0:
      raise UsageError("--short_seq_prob=%r must be in [0, 1]." % self.short_seq_prob)
    if self.dupe_factor < 1:
      raise UsageError("--dupe_factor=%d must be >= 1." % self.dupe_factor)
    if self.chinese_whole_word_mask:
      chinese_words.check_segmenter(self.chinese_whole_word_mask)


@dataclasses.dataclass
class TrainingInstance:
  """One example before padding: token ids with the masked LM replacements applied.

  input_ids: [CLS] A [SEP] B [SEP], [num_tokens].
  num_segment_a_tokens: len(A); segment_ids are 0 up to and including the first [SEP].
  masked_lm_positions, masked_lm_ids: ascending positions and the original ids there,
    [num_predictions].
  """
  input_ids: list
  num_segment_a_tokens: int
  masked_lm_positions: list
  masked_lm_ids: list
  is_random_next: bool


# ---------------------------------------------------------------------------------------------
# Random draws. `random.Random.shuffle` is pure Python; shuffling the ~125 masking candidates of
# every instance is the hottest call in data creation. `_shuffle` makes the same getrandbits calls
# as CPython's shuffle/_randbelow, inlined; `_check_shuffle` proves that on this interpreter and
# falls back to `rng.shuffle` if it ever differs.


def _shuffle(x, getrandbits):
  # For i = len-1 .. 1: j uniform in [0, i] by rejection on (i + 1).bit_length() random bits.
  for i in range(len(x) - 1, 0, -1):
    k = (i + 1).bit_length()
    j = getrandbits(k)
    while j > i:
      j = getrandbits(k)
    x[i], x[j] = x[j], x[i]


def _check_shuffle():
  for length in (0, 1, 2, 3, 17, 64, 127, 128, 129, 500):
    reference, ours = random.Random(length), random.Random(length)
    a, b = list(range(length)), list(range(length))
    reference.shuffle(a)
    _shuffle(b, ours.getrandbits)
    if a != b or reference.random() != ours.random():
      return False
  return True


if _check_shuffle():
  def _shuffle_with(rng, x):
    _shuffle(x, rng.getrandbits)
else:  # pragma: no cover - an interpreter whose shuffle draws differently
  def _shuffle_with(rng, x):
    rng.shuffle(x)


# ---------------------------------------------------------------------------------------------
# Reading.


def read_documents(input_files, tokenizer):
  """Text files -> documents: a blank line ends a document, each other line is a sentence.

  Documents run on across files until a blank line, as in the original. Lines with no tokens and
  documents with no sentences are dropped. `tokenizer` is a FullTokenizer, or a
  chinese_words.WordMarkingTokenizer (then the ids carry its marks).

  Returns:
    [document][sentence][token id].
  """
  all_documents = [[]]
  tokenize = tokenizer.tokenize_to_ids
  start = time.time()
  num_bytes = 0
  reading = _reading_progress(input_files)
  next_check = _PROGRESS_CHECK_CHARS if reading else float("inf")
  for path in input_files:
    for _, line in file_io.read_text_lines(path):
      num_bytes += len(line)
      if num_bytes >= next_check:  # one comparison per line; the clock only every MB
        next_check += _PROGRESS_CHECK_CHARS
        reading.update(num_bytes)
        if reading.due():
          logging.info("Reading %s: %d documents, %.1f MB/s, %s",
                       reading.counts("%.1f/%.1f MB", 1e6), len(all_documents),
                       num_bytes / 1e6 / (time.time() - start), reading.eta_text())
      line = line.strip()
      if not line:
        all_documents.append([])
        continue
      ids = tokenize(line)
      if ids:
        all_documents[-1].append(ids)
    logging.info("Read %s (%.1f MB of text so far, %.1f s).", path, num_bytes / 1e6,
                 time.time() - start)
  return [d for d in all_documents if d]


def _reading_progress(input_files):
  """A progress.Progress over the input's bytes for inputs above a few MB, else None (quiet)."""
  try:
    total = sum(file_io.size(path) for path in input_files)
  except (OSError, ValueError):  # a missing file: reading names it
    return None
  return (progress.Progress(total, interval=_PROGRESS_SECONDS) if total >= _PROGRESS_MIN_BYTES
          else None)


# ---------------------------------------------------------------------------------------------
# Instances.


class MaskedLmMasker(object):
  """The original's `create_masked_lm_predictions`, on token ids.

  Of the non-special tokens, round(num_tokens * masked_lm_prob) (at least 1, at most
  max_predictions_per_seq) are predicted; candidates are shuffled and taken in order; each chosen
  token becomes [MASK] 80% of the time, stays 10%, and becomes a random vocabulary token 10%.
  With whole-word masking a candidate is a word: a token and the `##` pieces after it, masked
  together or not at all (and skipped if it would exceed the prediction count).

  With `marked_words` the token ids may carry chinese_words' marks (`vocab_size + id`: a CJK
  character that continues a word); such a token joins the word before it as a `##` piece
  would, and is unmarked before anything is drawn or written.
  """

  def __init__(self, vocab, masked_lm_prob, max_predictions_per_seq, do_whole_word_mask,
               marked_words=False):
    self.mask_id = vocab[tokenization.MASK_TOKEN]
    self.cls_id = vocab[tokenization.CLS_TOKEN]
    self.sep_id = vocab[tokenization.SEP_TOKEN]
    self.vocab_size = len(vocab)
    self.masked_lm_prob = masked_lm_prob
    self.max_predictions_per_seq = max_predictions_per_seq
    self.do_whole_word_mask = do_whole_word_mask
    self.marked_words = marked_words
    # Ids of "##" continuation pieces (ids are line numbers, so the vocab list order is id order),
    # then the marked ids, which all continue a word.
    self.is_continuation = bytearray(t.startswith("##") for t in vocab) + b"\x01" * len(vocab)

  def create_instance(self, tokens_a, tokens_b, is_random_next, rng):
    """[CLS] A [SEP] B [SEP] with masked LM predictions applied; draws from `rng`."""
    input_ids = [self.cls_id] + tokens_a + [self.sep_id] + tokens_b + [self.sep_id]
    num_tokens = len(input_ids)
    first_sep = len(tokens_a) + 1
    num_to_predict = min(self.max_predictions_per_seq,
                         max(1, int(round(num_tokens * self.masked_lm_prob))))
    candidates = list(range(1, first_sep))
    candidates += range(first_sep + 1, num_tokens - 1)
    # Marked ids say where the words are; the instance holds the plain ids.
    word_ids = input_ids
    if self.marked_words:
      input_ids = chinese_words.unmark(word_ids, self.vocab_size)
    if self.do_whole_word_mask:
      originals = self._mask_whole_words(input_ids, word_ids, candidates, num_to_predict, rng)
    else:
      originals = self._mask_tokens(input_ids, candidates, num_to_predict, rng)
    # originals: {position: original id}
    positions = sorted(originals)
    return TrainingInstance(input_ids, len(tokens_a), positions,
                            [originals[p] for p in positions], is_random_next)

  def _replace(self, input_ids, positions, rng):
    """Draws the replacement of each chosen position, in order; returns {position: original}."""
    originals = {}
    random_value, mask_id = rng.random, self.mask_id
    for index in positions:
      originals[index] = input_ids[index]
      if random_value() < 0.8:
        input_ids[index] = mask_id
      elif random_value() < 0.5:
        pass  # keep the original token
      else:
        input_ids[index] = rng.randint(0, self.vocab_size - 1)
    return originals

  def _mask_tokens(self, input_ids, candidates, num_to_predict, rng):
    _shuffle_with(rng, candidates)
    return self._replace(input_ids, candidates[:num_to_predict], rng)

  def _mask_whole_words(self, input_ids, word_ids, candidates, num_to_predict, rng):
    # word_ids: input_ids, or the same with chinese_words' marks; grouped before any change.
    words = []
    is_continuation = self.is_continuation
    for index in candidates:
      # Like the original, a "##" piece right after [SEP] joins the last word before it.
      if words and is_continuation[word_ids[index]]:
        words[-1].append(index)
      else:
        words.append([index])
    _shuffle_with(rng, words)
    chosen = []
    for word in words:
      if len(chosen) >= num_to_predict:
        break
      if len(chosen) + len(word) > num_to_predict:
        continue
      # Words are disjoint, so none can already be covered (the original checks anyway).
      chosen += word
    # Replacements are drawn position by position in the order chosen, as in the original.
    return self._replace(input_ids, chosen, rng)


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
  """Trims the longer list, one token at a time from the front or back at random, until both fit.

  Returns the trimmed (tokens_a, tokens_b).
  """
  len_a, len_b = len(tokens_a), len(tokens_b)
  if len_a + len_b <= max_num_tokens:
    return tokens_a, tokens_b
  random_value = rng.random
  front_a = front_b = 0
  while len_a + len_b > max_num_tokens:
    # Count the cuts instead of deleting one element at a time; the draws are the same.
    if len_a > len_b:
      if random_value() < 0.5:
        front_a += 1
      len_a -= 1
    else:
      if random_value() < 0.5:
        front_b += 1
      len_b -= 1
  return tokens_a[front_a:front_a + len_a], tokens_b[front_b:front_b + len_b]


def create_instances_from_document(all_documents, document_index, max_seq_length,
                                   short_seq_prob, masker, rng):
  """NSP instances from one document, as the original's function of the same name.

  Sentences are packed into chunks of about a target length (the maximum, or with probability
  `short_seq_prob` a random shorter one); each chunk is split at a random sentence boundary into
  A and B; half the time (always for a one-sentence chunk) B is replaced by text from a random
  other document, and the sentences of the chunk it displaced are put back to be used again.
  """
  document = all_documents[document_index]
  max_num_tokens = max_seq_length - 3
  target_seq_length = max_num_tokens
  if rng.random() < short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)

  instances = []
  current_chunk = []
  current_length = 0
  i = 0
  while i < len(document):
    segment = document[i]
    current_chunk.append(segment)
    current_length += len(segment)
    if i == len(document) - 1 or current_length >= target_seq_length:
      a_end = 1
      if len(current_chunk) >= 2:
        a_end = rng.randint(1, len(current_chunk) - 1)
      tokens_a = []
      for j in range(a_end):
        tokens_a += current_chunk[j]

      tokens_b = []
      if len(current_chunk) == 1 or rng.random() < 0.5:
        is_random_next = True
        target_b_length = target_seq_length - len(tokens_a)
        # Ten tries at another document; with a single document, it is used for B too.
        for _ in range(10):
          random_document_index = rng.randint(0, len(all_documents) - 1)
          if random_document_index != document_index:
            break
        random_document = all_documents[random_document_index]
        random_start = rng.randint(0, len(random_document) - 1)
        for j in range(random_start, len(random_document)):
          tokens_b += random_document[j]
          if len(tokens_b) >= target_b_length:
            break
        i -= len(current_chunk) - a_end
      else:
        is_random_next = False
        for j in range(a_end, len(current_chunk)):
          tokens_b += current_chunk[j]

      tokens_a, tokens_b = truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
      instances.append(masker.create_instance(tokens_a, tokens_b, is_random_next, rng))
      current_chunk = []
      current_length = 0
    i += 1
  return instances


def create_training_instances(all_documents, vocab, options, rng):
  """Documents -> serialized examples, `dupe_factor` passes with different masks, shuffled.

  Instances are serialized as soon as they are made: the bytes are smaller than any Python
  structure holding the same ids. Shuffles `all_documents` in place (as the original does).
  """
  marked_words = bool(options.chinese_whole_word_mask)
  if options.dynamic_masking:
    masker, encoder = unmasked_examples.maker_and_encoder(vocab, options.max_seq_length,
                                                          marked_words)
  else:
    masker = MaskedLmMasker(vocab, options.masked_lm_prob, options.max_predictions_per_seq,
                            options.whole_word_mask, marked_words)
    encoder = ExampleEncoder(options.max_seq_length, options.max_predictions_per_seq)
  rng.shuffle(all_documents)
  instances = []
  start = time.time()
  passes = progress.Progress(options.dupe_factor)
  for dupe in range(options.dupe_factor):
    for document_index in range(len(all_documents)):
      for instance in create_instances_from_document(
          all_documents, document_index, options.max_seq_length, options.short_seq_prob,
          masker, rng):
        instances.append(encoder.encode(instance))
    passes.update(dupe + 1)
    logging.info("Pass %s: %d instances so far (%.0f instances/s), %s", passes.counts(),
                 len(instances), len(instances) / (time.time() - start), passes.eta_text())
  rng.shuffle(instances)
  return instances


# ---------------------------------------------------------------------------------------------
# Writing.


class ExampleEncoder(object):
  """TrainingInstance -> serialized tf.train.Example with the original's features and padding."""

  def __init__(self, max_seq_length, max_predictions_per_seq):
    self.max_seq_length = max_seq_length
    self.max_predictions_per_seq = max_predictions_per_seq
    self._schema = tfrecord.ExampleSchema(
        [(name, tfrecord.FLOAT if schema.DTYPES[name] == schema.FLOAT32 else tfrecord.INT64)
         for name in schema.FEATURE_NAMES])
    self._zeros = b"\x00" * max(max_seq_length, max_predictions_per_seq)
    self._ones = b"\x01" * max_seq_length
    self._weights = [tfrecord.pack_floats([1.0] * n + [0.0] * (max_predictions_per_seq - n))
                     for n in range(max_predictions_per_seq + 1)]

  def encode(self, instance):
    num_tokens = len(instance.input_ids)
    num_predictions = len(instance.masked_lm_positions)
    if num_tokens > self.max_seq_length or num_predictions > self.max_predictions_per_seq:
      raise AssertionError("instance exceeds max_seq_length or max_predictions_per_seq")
    zeros = self._zeros
    padding = zeros[:self.max_seq_length - num_tokens]
    prediction_padding = zeros[:self.max_predictions_per_seq - num_predictions]
    num_segment_a = instance.num_segment_a_tokens + 2  # [CLS] A [SEP]
    return self._schema.serialize((
        tfrecord.pack_int64s(instance.input_ids) + padding,
        self._ones[:num_tokens] + padding,
        zeros[:num_segment_a] + self._ones[:num_tokens - num_segment_a] + padding,
        tfrecord.pack_int64s(instance.masked_lm_positions) + prediction_padding,
        tfrecord.pack_int64s(instance.masked_lm_ids) + prediction_padding,
        self._weights[num_predictions],
        b"\x01" if instance.is_random_next else b"\x00",
    ))


def _log_example(serialized, tokenizer):
  features = tfrecord.parse_example(serialized)
  num_tokens = sum(features["input_mask"])
  logging.info("*** Example ***")
  logging.info("tokens: %s", " ".join(
      tokenizer.convert_ids_to_tokens(features["input_ids"][:num_tokens])))
  for name in schema.FEATURE_NAMES:
    if name in features:  # the unmasked layout has four of them
      logging.info("%s: %s", name, " ".join(str(v) for v in features[name]))


def write_instances(instances, files, tokenizer):
  """Writes serialized examples round-robin over open binary `files`; returns how many."""
  writes = [f.write for f in files]
  num_files = len(files)
  frame = tfrecord.frame
  written = progress.Progress(len(instances), interval=_PROGRESS_SECONDS)
  for index, serialized in enumerate(instances):
    writes[index % num_files](frame(serialized))
    if index < _NUM_LOGGED_EXAMPLES:
      _log_example(serialized, tokenizer)
    elif index % 10000 == 0:  # the clock every 10000 instances
      written.update(index)
      if written.due():
        logging.info("Wrote %s instances, %s", written.counts(), written.eta_text())
  logging.info("Wrote %d total instances", len(instances))
  return len(instances)


def load_tokenizer(vocab_file, options):
  """The FullTokenizer of `vocab_file` with the options' casing; it must hold the special tokens.

  With --chinese_whole_word_mask, also loads the segmenter (once per process, before any
  worker is forked from this one).
  """
  tokenizer = tokenization.FullTokenizer(vocab_file, options.do_lower_case,
                                         options.preserve_unused_tokens)
  tokenization.require_tokens(
      tokenizer.vocab, (tokenization.CLS_TOKEN, tokenization.SEP_TOKEN, tokenization.MASK_TOKEN,
                        tokenization.UNK_TOKEN), vocab_file)
  if options.chinese_whole_word_mask:
    chinese_words.check_segmenter(options.chinese_whole_word_mask)
    chinese_words.initialize(options.chinese_whole_word_mask)
  return tokenizer


def create_pretraining_data(input_file, output_file, vocab_file, options):
  """The whole job: comma-separated input patterns -> comma-separated TFRecord outputs.

  Outputs appear under their final names only when complete.

  Returns:
    The number of examples written.
  Raises:
    ValueError / OSError with a message naming the flag, file or line at fault.
  """
  options.validate()
  tokenizer = load_tokenizer(vocab_file, options)
  input_files = file_io.expand_patterns(input_file)
  output_files = output_file.split(",")
  clobbered = (set(map(file_io.canonical_path, input_files))
               & set(map(file_io.canonical_path, output_files)))
  if clobbered:
    raise UsageError("--output_file would overwrite the input file %s." % sorted(clobbered)[0])
  logging.info("*** Reading from input files ***")
  for path in input_files:
    logging.info("  %s", path)
  return _create_from_files(input_files, output_files, tokenizer, options,
                            "--input_file=%s: the input files hold no text." % input_file)


def _create_from_files(input_files, output_files, tokenizer, options, empty_message):
  """Input files, read as one stream -> examples round-robin over the output files; a count."""
  # Open (temporary) outputs first: an unwritable output fails before any work is done.
  with atomic.AtomicOutputs(output_files) as files:
    reader = tokenizer
    if options.chinese_whole_word_mask:
      reader = chinese_words.WordMarkingTokenizer(tokenizer, options.chinese_whole_word_mask)
    all_documents = read_documents(input_files, reader)
    if not all_documents:
      raise UsageError(empty_message)
    rng = random.Random(options.random_seed)
    instances = create_training_instances(all_documents, tokenizer.vocab, options, rng)
    del all_documents
    logging.info("*** Writing to output files ***")
    for path in output_files:
      logging.info("  %s", path)
    return write_instances(instances, files, tokenizer)


def create_file(input_path, output_path, tokenizer, options):
  """One input file on its own -> one TFRecord file: the per-file mode's unit of work.

  Writes exactly what `create_pretraining_data(input_path, output_path, ...)` writes (and so the
  original run on that file alone with the same flags and seed): a fresh `random.Random(seed)`
  per file. `input_path` is a file name, never a pattern. The worker pool and the Beam pipeline
  both call this; `tokenizer` (`load_tokenizer`) may be reused from file to file, since its
  cache never changes a token.

  Returns:
    The number of examples written.
  Raises:
    UsageError naming the file (and line) when the input can't be used: missing, not UTF-8,
    no text.
  """
  options.validate()
  return _create_from_files([input_path], [output_path], tokenizer, options,
                            "%s: holds no text (no line with a token)." % input_path)
