"""The original's whole-word masking (master branch, commit eedf571), and Chinese BERT-wwm on it.

PyPI's `bert-tensorflow` 1.0.4 predates whole-word masking; on master, `create_masked_lm_predictions`
is the only function of create_pretraining_data.py that differs (besides its imports and the
`--do_whole_word_mask` flag). `MASTER_CREATE_MASKED_LM_PREDICTIONS` is that function verbatim
(google-research/bert, Apache License 2.0); `run_original_whole_word_mask` runs the PyPI module's
data creation with it in place of the release's, so with master's --do_whole_word_mask=True.

With `segmenter`, the tokenizer is the original FullTokenizer with the Chinese BERT-wwm trick done
the way its users bolt it on: a CJK character that continues a word of the segmentation is given
to the original code as a token for which `token.startswith("##")` holds, while it still equals
(and so looks up as) the plain character. The word boundaries are computed here, from
`jieba.cut(line)` on the whole line or from the spaces, independently of bert_mlm.
"""

import random

MASTER_CREATE_MASKED_LM_PREDICTIONS = '''
def create_masked_lm_predictions(tokens, masked_lm_prob,
                                 max_predictions_per_seq, vocab_words, rng):
  """Creates the predictions for the masked LM objective."""

  cand_indexes = []
  for (i, token) in enumerate(tokens):
    if token == "[CLS]" or token == "[SEP]":
      continue
    # Whole Word Masking means that if we mask all of the wordpieces
    # corresponding to an original word. When a word has been split into
    # WordPieces, the first token does not have any marker and any subsequence
    # tokens are prefixed with ##. So whenever we see the ## token, we
    # append it to the previous set of word indexes.
    #
    # Note that Whole Word Masking does *not* change the training code
    # at all -- we still predict each WordPiece independently, softmaxed
    # over the entire vocabulary.
    if (FLAGS.do_whole_word_mask and len(cand_indexes) >= 1 and
        token.startswith("##")):
      cand_indexes[-1].append(i)
    else:
      cand_indexes.append([i])

  rng.shuffle(cand_indexes)

  output_tokens = list(tokens)

  num_to_predict = min(max_predictions_per_seq,
                       max(1, int(round(len(tokens) * masked_lm_prob))))

  masked_lms = []
  covered_indexes = set()
  for index_set in cand_indexes:
    if len(masked_lms) >= num_to_predict:
      break
    # If adding a whole-word mask would exceed the maximum number of
    # predictions, then just skip this candidate.
    if len(masked_lms) + len(index_set) > num_to_predict:
      continue
    is_any_index_covered = False
    for index in index_set:
      if index in covered_indexes:
        is_any_index_covered = True
        break
    if is_any_index_covered:
      continue
    for index in index_set:
      covered_indexes.add(index)

      masked_token = None
      # 80% of the time, replace with [MASK]
      if rng.random() < 0.8:
        masked_token = "[MASK]"
      else:
        # 10% of the time, keep original
        if rng.random() < 0.5:
          masked_token = tokens[index]
        # 10% of the time, replace with random word
        else:
          masked_token = vocab_words[rng.randint(0, len(vocab_words) - 1)]

      output_tokens[index] = masked_token

      masked_lms.append(MaskedLmInstance(index=index, label=tokens[index]))
  assert len(masked_lms) <= num_to_predict
  masked_lms = sorted(masked_lms, key=lambda x: x.index)

  masked_lm_positions = []
  masked_lm_labels = []
  for p in masked_lms:
    masked_lm_positions.append(p.index)
    masked_lm_labels.append(p.label)

  return (output_tokens, masked_lm_positions, masked_lm_labels)
'''


class _MasterFlags(object):
  do_whole_word_mask = True


class _ContinuingCharacter(str):
  """A CJK character's token that the original's whole-word masking takes for a `##` piece."""

  def startswith(self, prefix, *args):
    return prefix == "##" or str.startswith(self, prefix, *args)


def continuing_positions(line, segmenter, is_cjk):
  """Positions of the CJK characters of `line` that continue a word (after a CJK character)."""
  if segmenter == "whitespace":
    return {i for i in range(1, len(line)) if is_cjk(line[i]) and is_cjk(line[i - 1])}
  import jieba  # pylint: disable=g-import-not-at-top
  positions = set()
  start = 0
  for word in jieba.cut(line):
    for k in range(1, len(word)):
      if is_cjk(word[k]) and is_cjk(word[k - 1]):
        positions.add(start + k)
    start += len(word)
  assert start == len(line)
  return positions


class ChineseWordTokenizer(object):
  """The original FullTokenizer, continuing CJK characters as `_ContinuingCharacter` tokens."""

  def __init__(self, tokenizer, segmenter):
    self._tokenizer = tokenizer
    self._segmenter = segmenter
    self.vocab = tokenizer.vocab
    self.inv_vocab = tokenizer.inv_vocab
    basic = tokenizer.basic_tokenizer
    self._is_cjk = lambda char: basic._is_chinese_char(ord(char))  # pylint: disable=protected-access

  def tokenize(self, text):
    positions = continuing_positions(text, self._segmenter, self._is_cjk)
    tokens = []
    start = 0
    for i, char in enumerate(text):
      if self._is_cjk(char):
        tokens += self._tokenizer.tokenize(text[start:i])
        (token,) = self._tokenizer.tokenize(char)
        tokens.append(_ContinuingCharacter(token) if i in positions else token)
        start = i + 1
    tokens += self._tokenizer.tokenize(text[start:])
    # Each CJK character is a word of its own to FullTokenizer: the pieces make the line's tokens.
    assert tokens == self._tokenizer.tokenize(text)
    return tokens

  def convert_tokens_to_ids(self, tokens):
    return self._tokenizer.convert_tokens_to_ids(tokens)

  def convert_ids_to_tokens(self, ids):
    return self._tokenizer.convert_ids_to_tokens(ids)


def run_original_whole_word_mask(input_file, output_file, vocab_file, segmenter=None,
                                 do_lower_case=True, max_seq_length=128,
                                 max_predictions_per_seq=20, random_seed=12345, dupe_factor=10,
                                 masked_lm_prob=0.15, short_seq_prob=0.1):
  """The original's main() with master's --do_whole_word_mask=True (and Chinese words if
  `segmenter` is "jieba" or "whitespace")."""
  from bert import create_pretraining_data  # pylint: disable=g-import-not-at-top
  from reference import original  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

  namespace = dict(vars(create_pretraining_data), FLAGS=_MasterFlags)
  exec(MASTER_CREATE_MASKED_LM_PREDICTIONS, namespace)  # pylint: disable=exec-used
  release_function = create_pretraining_data.create_masked_lm_predictions
  create_pretraining_data.create_masked_lm_predictions = namespace["create_masked_lm_predictions"]
  try:
    tokenizer = original.original_tokenizer(vocab_file, do_lower_case=do_lower_case)
    if segmenter is not None:
      tokenizer = ChineseWordTokenizer(tokenizer, segmenter)
    input_files = []
    for input_pattern in input_file.split(","):
      input_files.extend(tf.gfile.Glob(input_pattern))
    rng = random.Random(random_seed)
    instances = create_pretraining_data.create_training_instances(
        input_files, tokenizer, max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
        max_predictions_per_seq, rng)
    create_pretraining_data.write_instance_to_example_files(
        instances, tokenizer, max_seq_length, max_predictions_per_seq, output_file.split(","))
  finally:
    create_pretraining_data.create_masked_lm_predictions = release_function
