"""Dynamic masking: the masked LM predictions drawn for every batch in the input pipeline.

The original fixes the masks when it writes the data, so each pass over the data sees the same
ones unless the data is multiplied by `dupe_factor`. Here the records hold the NSP instances
unmasked (`create_pretraining_data.py --dynamic_masking=True`, `unmasked_examples.py`), and
`input_pipeline.make_dataset(..., masking=DynamicMasking(...))` masks each batch after decoding
with tensorflow-text's `mask_language_model`, into the seven features of `schema.py` (so the
model, the losses and the metrics are untouched). The original's rules
(`pretraining_data.MaskedLmMasker`) are plugged into tensorflow-text's two extension points:

  * which positions (`_OriginalRuleSelector`, an ItemSelector): the candidates are every real
    token but [CLS] and [SEP] (never padding); per sequence,
      num_to_predict = min(max_predictions_per_seq, max(1, round(num_tokens * masked_lm_prob)))
    with num_tokens counting [CLS] and [SEP] (Python's round: half to even, in float64). The
    candidates are put in a uniformly random order and taken in it. With whole-word masking a
    candidate is a word, a token and the `##` pieces after it (grouped over the candidates, as the
    original does: a `##` piece right after [SEP] joins the last word before it), taken whole if
    it fits in what is left of num_to_predict and skipped if not, so words are never split and a
    sequence can get fewer predictions when only longer words are left (as in the original).
    Records written with --chinese_whole_word_mask also say which CJK characters continue a
    segmenter word (`continues_word`, schema.py): such a character joins the word before it
    exactly as a `##` piece does;
  * what replaces them (`_OriginalRuleValues`, a MaskValuesChooser): each chosen position
    independently becomes [MASK] with probability 0.8, a uniformly random id in
    [0, vocab_size) with 0.1, and stays with 0.1.

The positions come out ascending; positions and label ids are padded with 0 to
max_predictions_per_seq, weights are 1.0 for real predictions and 0.0 for padding.

Randomness is stateless (Philox uniform draws, float64):
  * training: one draw per batch, seeded by (seed, index of the batch in the stream), so a record
    gets a fresh mask each time it comes around, and a run with `--seed` is reproducible (the
    index counts batches from the start, so an unshuffled run resumed with `skip` masks exactly
    as an uninterrupted one);
  * evaluation: one draw per sequence, seeded by a fingerprint of its serialized record, so a
    record has the same mask in every evaluation of every checkpoint, whatever the batch size or
    the order of the files: eval numbers are comparable between checkpoints. (Per-sequence seeds
    cost a loop over the batch, about half the masking time; training does without it.)
"""

import random

from absl import logging
import tensorflow as tf
import tensorflow_text as text

from bert_mlm import create_pretraining_data
from bert_mlm import schema
from bert_mlm import tokenization

_MASK_PROB = 0.8
_RANDOM_PROB = 0.1
# The evaluation seeds' first half (the second is the record's fingerprint): any fixed value.
_EVAL_SEED = 0x5EED


def num_to_predict(num_tokens, masked_lm_prob, max_predictions_per_seq):
  """The original's count: min(max, max(1, round(num_tokens * prob))), as int32 [B].

  num_tokens: int [B], counting [CLS] and [SEP]. In float64 with round-half-to-even: the same
  arithmetic as the original's Python `int(round(num_tokens * masked_lm_prob))`.
  """
  scaled = tf.round(tf.cast(num_tokens, tf.float64) * tf.constant(masked_lm_prob, tf.float64))
  return tf.minimum(tf.cast(max_predictions_per_seq, tf.int32),
                    tf.maximum(1, tf.cast(scaled, tf.int32)))


class _OriginalRuleSelector(text.RandomItemSelector):
  """Selects the items (tokens, or words of pieces) the original's rule selects.

  Built per batch, with that batch's counts and random keys; `mask_language_model` calls
  get_selection_mask on the candidates, int [B, (items)] or [B, (items), (pieces)].
  """

  def __init__(self, num_to_predict_per_row, shuffle_keys, max_predictions_per_seq,
               masked_lm_prob):
    super().__init__(max_selections_per_batch=max_predictions_per_seq,
                     selection_rate=masked_lm_prob)
    self._num_to_predict = num_to_predict_per_row  # int32 [B]
    self._keys = shuffle_keys  # float64 [B, >= max items]: uniform, ranks give the order

  def get_selection_mask(self, input_ids, axis):
    """bool [B, (items)]: True for the items chosen."""
    if axis != 1:
      raise ValueError("_OriginalRuleSelector selects along axis 1, got %d" % axis)
    num_items = tf.cast(input_ids.row_lengths(), tf.int32)  # [B]
    if input_ids.ragged_rank > 1:
      item_lengths = tf.cast(input_ids.row_lengths(axis=2), tf.int32).to_tensor()  # [B, I]
    else:
      item_lengths = tf.ones_like(input_ids, tf.int32).to_tensor()
    max_items = tf.shape(item_lengths)[1]
    is_item = tf.sequence_mask(num_items, max_items)
    # A uniformly random order of each row's items: sort by the keys (non-items last).
    keys = tf.where(is_item, self._keys[:, :max_items], 2.0)
    order = tf.argsort(keys, axis=1, stable=True)  # [B, I]: item index at each rank
    lengths_in_order = tf.gather(item_lengths, order, batch_dims=1)
    if input_ids.ragged_rank > 1:
      chosen_in_order = _greedy_fill(lengths_in_order, self._num_to_predict)
    else:
      # Single tokens: the first num_to_predict of the order (the greedy fill's result).
      ranks = tf.range(max_items)[tf.newaxis, :]
      chosen_in_order = (ranks < self._num_to_predict[:, tf.newaxis]) & (
          ranks < num_items[:, tf.newaxis])
    # Back from rank to item order: the item at order[b, r] gets chosen_in_order[b, r].
    chosen = tf.gather(chosen_in_order, tf.argsort(order, axis=1), batch_dims=1)
    return tf.RaggedTensor.from_tensor(chosen, lengths=num_items)


def _greedy_fill(lengths_in_order, budget):
  """The original's whole-word choice, for every row at once.

  Goes through the words in their random order and takes a word when its pieces fit in what is
  left of the row's budget (skips it otherwise; stops when every row is full).

  Args:
    lengths_in_order: int32 [B, I], pieces per word in the order they are considered (0 past the
      row's words).
    budget: int32 [B], num_to_predict.
  Returns:
    bool [B, I]: whether the word at each rank was taken.
  """
  num_ranks = tf.shape(lengths_in_order)[1]
  rows = tf.range(tf.shape(budget)[0])

  def body(rank, count, taken):
    length = lengths_in_order[:, rank]
    take = (length > 0) & (count + length <= budget)
    taken = tf.tensor_scatter_nd_update(
        taken, tf.stack([rows, tf.fill(tf.shape(rows), rank)], axis=1), take)
    return rank + 1, count + tf.where(take, length, 0), taken

  def keep_going(rank, count, unused_taken):
    return (rank < num_ranks) & tf.reduce_any(count < budget)

  # Ranks after the loop stopped (every row full) stay False.
  _, _, taken = tf.while_loop(keep_going, body, (tf.constant(0), tf.zeros_like(budget),
                                                 tf.zeros(tf.shape(lengths_in_order), tf.bool)))
  return taken


class _OriginalRuleValues(text.MaskValuesChooser):
  """80% [MASK], 10% a random id, 10% unchanged, from this batch's uniform draws."""

  def __init__(self, vocab_size, mask_id, replace_draws, random_id_draws):
    super().__init__(vocab_size, mask_id, mask_token_rate=_MASK_PROB,
                     random_token_rate=_RANDOM_PROB)
    self._replace_draws = replace_draws  # float64 [B, max_predictions_per_seq]
    self._random_id_draws = random_id_draws  # float64 [B, max_predictions_per_seq]

  def get_mask_values(self, masked_lm_ids):
    """int [B, (num masked)] original ids -> the ids to put at those positions."""
    lengths = masked_lm_ids.row_lengths()
    replace = tf.RaggedTensor.from_tensor(self._replace_draws, lengths=lengths).flat_values
    random_ids = tf.RaggedTensor.from_tensor(
        tf.minimum(tf.floor(self._random_id_draws * self.vocab_size), self.vocab_size - 1),
        lengths=lengths).flat_values
    ids = masked_lm_ids.flat_values
    values = tf.where(replace < _MASK_PROB, tf.cast(self.mask_token, ids.dtype),
                      tf.where(replace < _MASK_PROB + _RANDOM_PROB,
                               tf.cast(random_ids, ids.dtype), ids))
    return masked_lm_ids.with_flat_values(values)


class DynamicMasking(object):
  """The masked LM rules and the vocabulary facts they need (see the module docstring).

  Attributes:
    masked_lm_prob, do_whole_word_mask: the original's data-creation flags of the same names.
    cls_id, sep_id, mask_id, vocab_size: from the vocabulary.
  """

  def __init__(self, vocab, masked_lm_prob=0.15, do_whole_word_mask=False):
    """vocab: ordered {token: id} (tokenization.load_vocab), the one the records were made with."""
    create_pretraining_data.check_masked_lm_prob(masked_lm_prob)
    tokenization.require_tokens(vocab, (tokenization.CLS_TOKEN, tokenization.SEP_TOKEN,
                                        tokenization.MASK_TOKEN), "--vocab_file")
    self.masked_lm_prob = masked_lm_prob
    self.do_whole_word_mask = do_whole_word_mask
    self.cls_id = vocab[tokenization.CLS_TOKEN]
    self.sep_id = vocab[tokenization.SEP_TOKEN]
    self.mask_id = vocab[tokenization.MASK_TOKEN]
    self.vocab_size = len(vocab)
    # Ids are line numbers, so the vocab's order is id order.
    self._is_continuation = [token.startswith("##") for token in vocab]

  @classmethod
  def from_vocab_file(cls, vocab_file, masked_lm_prob=0.15, do_whole_word_mask=False):
    return cls(tokenization.load_vocab(vocab_file), masked_lm_prob, do_whole_word_mask)

  @staticmethod
  def num_draws(seq_length, max_predictions_per_seq):
    """Uniform draws `mask` takes per sequence: S shuffle keys, P replacement, P random-id."""
    return seq_length + 2 * max_predictions_per_seq

  def mask(self, features, draws, max_predictions_per_seq):
    """Masks a decoded batch of unmasked records.

    Args:
      features: input_ids, input_mask, segment_ids int32 [B, S]; next_sentence_labels [B, 1];
        optionally continues_word int32 [B, S] (Chinese words, used with whole-word masking).
      draws: float64 [B, num_draws(S, P)], independent uniform draws in [0, 1).
      max_predictions_per_seq: P.
    Returns:
      The seven features of schema.py: input_ids (masked), input_mask, segment_ids int32 [B, S];
      masked_lm_positions, masked_lm_ids int32 [B, P]; masked_lm_weights float32 [B, P];
      next_sentence_labels int32 [B, 1].
    """
    input_ids = features["input_ids"]
    input_mask = features["input_mask"]
    batch_size = tf.shape(input_ids)[0]
    seq_length = tf.shape(input_ids)[1]
    predictions = max_predictions_per_seq
    shuffle_keys = draws[:, :seq_length]
    replace_draws = draws[:, seq_length:seq_length + predictions]
    random_id_draws = draws[:, seq_length + predictions:]

    is_candidate = ((input_mask > 0) & tf.not_equal(input_ids, self.cls_id) &
                    tf.not_equal(input_ids, self.sep_id))
    positions = tf.broadcast_to(tf.range(seq_length), tf.shape(input_ids))
    candidate_positions = tf.ragged.boolean_mask(positions, is_candidate)  # [B, (C)]
    candidates = tf.ragged.boolean_mask(input_ids, is_candidate)  # [B, (C)]
    if self.do_whole_word_mask:
      continues_word = features.get(schema.CONTINUES_WORD)
      if continues_word is not None:
        continues_word = tf.ragged.boolean_mask(continues_word > 0, is_candidate)  # [B, (C)]
      items = self._group_words(candidates, continues_word)  # [B, (words), (pieces)]
    else:
      items = candidates
    selector = _OriginalRuleSelector(
        num_to_predict(tf.reduce_sum(input_mask, axis=1), self.masked_lm_prob, predictions),
        shuffle_keys, predictions, self.masked_lm_prob)
    chooser = _OriginalRuleValues(self.vocab_size, self.mask_id, replace_draws, random_id_draws)
    masked_items, chosen, labels = text.mask_language_model(items, selector, chooser, axis=1)
    # `chosen` indexes the candidates (ascending); map back to sequence positions.
    masked_positions = tf.gather(candidate_positions, chosen, batch_dims=1)
    if masked_items.ragged_rank > 1:
      masked_items = masked_items.merge_dims(1, 2)
    scatter_at = tf.stack([tf.cast(candidate_positions.value_rowids(), tf.int32),
                           candidate_positions.flat_values], axis=1)
    masked_input_ids = tf.tensor_scatter_nd_update(input_ids, scatter_at,
                                                   masked_items.flat_values)

    shape = [batch_size, predictions]
    static_batch = input_ids.shape[0]
    out = dict(features)
    out.pop(schema.CONTINUES_WORD, None)  # the model takes the seven features only
    out["input_ids"] = masked_input_ids
    out["masked_lm_positions"] = masked_positions.to_tensor(0, shape=shape)
    out["masked_lm_ids"] = labels.to_tensor(0, shape=shape)
    out["masked_lm_weights"] = tf.sequence_mask(masked_positions.row_lengths(), predictions,
                                                dtype=tf.float32)
    for name in ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights"):
      out[name].set_shape([static_batch, predictions])
    return out

  def _group_words(self, candidates, continues_word=None):
    """int [B, (C)] candidate ids -> [B, (words), (pieces)]: a `##` piece (or where
    `continues_word`, bool [B, (C)], is True) joins the word before it among the candidates
    (the first candidate of a row always starts a word)."""
    is_continuation = tf.gather(tf.constant(self._is_continuation), candidates.flat_values)
    if continues_word is not None:
      is_continuation = is_continuation | continues_word.flat_values
    row_ids = candidates.value_rowids()
    index_in_row = (tf.range(tf.size(row_ids, out_type=tf.int64)) -
                    tf.gather(candidates.row_starts(), row_ids))
    starts_word = tf.logical_not(is_continuation) | tf.equal(index_in_row, 0)
    words = tf.RaggedTensor.from_row_starts(candidates.flat_values,
                                            tf.where(starts_word)[:, 0])
    words_per_row = tf.math.unsorted_segment_sum(tf.cast(starts_word, tf.int64), row_ids,
                                                 candidates.nrows())
    return tf.RaggedTensor.from_row_lengths(words, words_per_row)

  def map_batches(self, batches, decode, max_predictions_per_seq, is_training, seed=None):
    """Decodes and masks a dataset of serialized record batches.

    Args:
      batches: tf.data.Dataset of (index of the batch in the stream: int64 scalar, serialized
        unmasked records: string [B]), as `Dataset.batch(...).enumerate()` makes it.
      decode: string [B] -> the four unmasked features (int32).
      is_training: fresh masks per batch (from `seed` and the batch index), else a fixed mask
        per record (from its fingerprint).
      seed: training only; None draws one (logged), so runs differ.
    Returns:
      tf.data.Dataset of the seven-feature dicts.
    """
    if is_training:
      if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
        logging.info("Dynamic masking: no --seed, masks drawn with seed %d.", seed)

      # No autograph: the masking has no Python control flow on tensors, and converting
      # tensorflow-text's code costs seconds of tracing per pipeline.
      @tf.autograph.experimental.do_not_convert
      def mask_training_batch(index, records):
        features = decode(records)
        draws = tf.random.stateless_uniform(
            [tf.shape(records)[0], self.num_draws(tf.shape(features["input_ids"])[1],
                                                  max_predictions_per_seq)],
            tf.stack([tf.constant(seed, tf.int64), index]), dtype=tf.float64, alg="philox")
        return self.mask(features, draws, max_predictions_per_seq)

      return batches.map(mask_training_batch, num_parallel_calls=tf.data.AUTOTUNE)

    @tf.autograph.experimental.do_not_convert
    def mask_eval_batch(unused_index, records):
      features = decode(records)
      num_draws = self.num_draws(tf.shape(features["input_ids"])[1], max_predictions_per_seq)
      fingerprints = tf.bitcast(tf.fingerprint(records), tf.int64)  # [B]: farmhash of each
      row_seeds = tf.stack([tf.fill(tf.shape(fingerprints), tf.constant(_EVAL_SEED, tf.int64)),
                            fingerprints], axis=1)
      draws = tf.map_fn(
          lambda row_seed: tf.random.stateless_uniform([num_draws], row_seed, dtype=tf.float64,
                                                       alg="philox"),
          row_seeds, fn_output_signature=tf.TensorSpec([None], tf.float64))
      return self.mask(features, draws, max_predictions_per_seq)

    return batches.map(mask_eval_batch, num_parallel_calls=tf.data.AUTOTUNE)
