"""Dynamic masking: unmasked records, the original's masking rules per batch, and training on it."""

import collections
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm import config as config_lib
from bert_mlm.training import distribute
from bert_mlm.training import dynamic_masking
from bert_mlm.training import input_pipeline
from bert_mlm import create_pretraining_data
from bert_mlm import schema
from bert_mlm.storage import tfrecord
from bert_mlm import tokenization
from bert_mlm.training import loop
from bert_mlm.training import record_layout
from bert_mlm import unmasked_examples
from bert_mlm.errors import UsageError
from reference import original
from tests import helpers

_SEQ = 48
_PREDICTIONS = 6
_PROB = 0.15


def _rule(num_tokens, prob=_PROB, predictions=_PREDICTIONS):
  """The original's count, in Python as create_masked_lm_predictions computes it."""
  return min(predictions, max(1, int(round(num_tokens * prob))))


@pytest.fixture(scope="module")
def word_vocab(tmp_path_factory):
  """A vocabulary with whole tokens w<i> and continuation pieces ##p<i>."""
  tokens = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["w%d" % i for i in range(700)] +
            ["##p%d" % i for i in range(300)])
  path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
  with open(path, "w") as f:
    f.write("\n".join(tokens) + "\n")
  return path


def _random_records(vocab, count, seed):
  """Unmasked records of random [CLS] A [SEP] B [SEP] sequences (pieces even right after [SEP])."""
  rng = random.Random(seed)
  maker, encoder = unmasked_examples.maker_and_encoder(vocab, _SEQ)
  words = [i for t, i in vocab.items() if t.startswith("w")]
  pieces = [i for t, i in vocab.items() if t.startswith("##")]
  records = []
  for _ in range(count):
    length = rng.randint(5, _SEQ)  # tokens, [CLS] and [SEP]s included
    body = [rng.choice(pieces) if rng.random() < 0.35 else rng.choice(words)
            for _ in range(length - 3)]
    split = rng.randint(1, len(body) - 1)
    instance = maker.create_instance(body[:split], body[split:], rng.random() < 0.5, None)
    records.append(encoder.encode(instance))
  return records


def _write(path, records):
  with open(path, "wb") as f:
    for record in records:
      f.write(tfrecord.frame(record))
  return path


@pytest.fixture(scope="module")
def records_file(word_vocab, tmp_path_factory):
  vocab = tokenization.load_vocab(word_vocab)
  return _write(str(tmp_path_factory.mktemp("records") / "unmasked.tfrecord"),
                _random_records(vocab, 1000, seed=1))


def _dataset(records_file, masking, batch_size, is_training=True, seed=3):
  return input_pipeline.make_dataset([records_file], _SEQ, _PREDICTIONS, batch_size,
                                     is_training=is_training, shuffle=False, seed=seed,
                                     masking=masking)


def _batches(records_file, masking, batch_size, num_batches, is_training=True, seed=3,
             dataset=None):
  """The first num_batches batches of make_dataset, concatenated: {name: [N * B, ...]}."""
  if dataset is None:
    dataset = _dataset(records_file, masking, batch_size, is_training, seed)
  chunks = collections.defaultdict(list)
  # Fetched 100 batches at a time (the batches themselves are make_dataset's).
  for chunk in dataset.take(num_batches).batch(100):
    for name, value in chunk.items():
      value = value.numpy()
      chunks[name].append(value.reshape((-1,) + value.shape[2:]))
  return {name: np.concatenate(values) for name, values in chunks.items()}


def _originals(records_file, count):
  """input_ids and input_mask of the records, in file order, repeated to `count` rows."""
  ids, mask = [], []
  for record in tf.data.TFRecordDataset(records_file):
    features = tfrecord.parse_example(record.numpy())
    ids.append(features["input_ids"])
    mask.append(features["input_mask"])
  reps = -(-count // len(ids))
  return np.array(ids * reps)[:count], np.array(mask * reps)[:count]


def _word_ids(ids, is_candidate, is_continuation):
  """[N, S] index of each candidate's word in its row (the original's grouping over the
  candidates: a ## piece joins the word before it, across [SEP] too), -1 elsewhere."""
  first = is_candidate & (np.cumsum(is_candidate, axis=1) == 1)
  starts = is_candidate & (~is_continuation[ids] | first)
  return np.where(is_candidate, np.cumsum(starts, axis=1) - 1, -1)


def _check_batches(out, ids, mask, vocab, whole_words):
  """Every per-sequence rule, on all rows at once; returns the replacement kinds' counts."""
  n, s = ids.shape
  rows = np.arange(n)[:, None]
  is_candidate = (mask == 1) & (ids != vocab["[CLS]"]) & (ids != vocab["[SEP]"])
  counts = out["masked_lm_weights"].sum(axis=1).astype(int)
  slots = np.arange(_PREDICTIONS)[None, :]
  real = slots < counts[:, None]
  positions, labels = out["masked_lm_positions"], out["masked_lm_ids"]
  np.testing.assert_array_equal(out["masked_lm_weights"], real.astype(np.float32))
  assert not positions[~real].any() and not labels[~real].any()
  # Ascending without repeats; never [CLS], [SEP] or padding; labels are the originals.
  assert (np.diff(positions, axis=1)[real[:, 1:]] > 0).all()
  assert is_candidate[rows, positions][real].all()
  np.testing.assert_array_equal(labels[real], ids[rows, positions][real])
  chosen = np.zeros_like(is_candidate)
  chosen[np.broadcast_to(rows, positions.shape)[real], positions[real]] = True
  assert not (out["input_ids"] != ids)[~chosen].any(), "a position changed without a label"
  rule = np.array([_rule(t) for t in mask.sum(axis=1)])
  if whole_words:
    is_continuation = np.array([t.startswith("##") for t in vocab])
    words = _word_ids(ids, is_candidate, is_continuation)
    keys = (rows * s + words)[is_candidate]
    length = np.bincount(keys, minlength=n * s)
    taken = np.bincount(keys, weights=chosen[is_candidate], minlength=n * s)
    assert ((taken == 0) | (taken == length)).all(), "a word was split"
    # As the original: a word is left out only when it no longer fits.
    left = rule - counts
    assert (left >= 0).all()
    shortest_left_out = np.full(n, s + 1)
    left_out = (taken == 0) & (length > 0)
    np.minimum.at(shortest_left_out, np.nonzero(left_out)[0] // s, length[left_out])
    assert ((left == 0) | (shortest_left_out > left)).all()
  else:
    np.testing.assert_array_equal(counts, rule)
  new = out["input_ids"][chosen]
  return {"mask": int((new == vocab["[MASK]"]).sum()), "same": int((new == ids[chosen]).sum()),
          "random": int(((new != vocab["[MASK]"]) & (new != ids[chosen])).sum())}


@pytest.mark.slow
@pytest.mark.parametrize("whole_words", [False, True])
def test_rules_hold_on_thousands_of_batches(records_file, word_vocab, whole_words):
  vocab = tokenization.load_vocab(word_vocab)
  masking = dynamic_masking.DynamicMasking(vocab, _PROB, whole_words)
  num_batches, batch_size = 2000, 16
  out = _batches(records_file, masking, batch_size, num_batches)
  ids, mask = _originals(records_file, num_batches * batch_size)
  assert (out["input_mask"] == mask).all()
  kinds = _check_batches(out, ids, mask, vocab, whole_words)
  total = sum(kinds.values())
  assert total > 40000
  # 80% [MASK], 10% random, 10% unchanged; a random id equal to [MASK] or to the original
  # (1 in 1005 each) counts as those.
  v = len(vocab)
  for kind, p in (("mask", 0.8 + 0.1 / v), ("same", 0.1 + 0.1 / v), ("random", 0.1 - 0.2 / v)):
    tolerance = 5 * math.sqrt(p * (1 - p) / total)
    assert abs(kinds[kind] / total - p) < tolerance, (kind, kinds[kind] / total, p)
  # Each record comes around every 1000 rows, with a fresh mask.
  again = out["masked_lm_positions"].reshape(-1, 1000, _PREDICTIONS)
  assert (again[0] != again[1]).any(axis=1).mean() > 0.5


def test_random_replacements_and_positions_are_uniform(records_file, word_vocab):
  vocab = tokenization.load_vocab(word_vocab)
  masking = dynamic_masking.DynamicMasking(vocab, _PROB, False)
  num_batches, batch_size = 500, 16
  out = _batches(records_file, masking, batch_size, num_batches, seed=11)
  ids, mask = _originals(records_file, num_batches * batch_size)
  # Where the predictions fall among each sequence's candidates: evenly over four quarters.
  rank_counts, expected = np.zeros(4), np.zeros(4)
  replaced = []
  for row in range(len(ids)):
    candidates = [p for p in range(_SEQ) if mask[row][p] and ids[row][p] not in (2, 3)]
    count = int(out["masked_lm_weights"][row].sum())
    quarter = [4 * i // len(candidates) for i in range(len(candidates))]
    expected += np.bincount(quarter, minlength=4) * count / len(candidates)
    for p in out["masked_lm_positions"][row][:count]:
      rank_counts[quarter[candidates.index(p)]] += 1
      new = out["input_ids"][row][p]
      if new != ids[row][p] and new != vocab["[MASK]"]:
        replaced.append(new)
  chi2 = ((rank_counts - expected) ** 2 / expected).sum()
  assert chi2 < 20, (rank_counts, expected)  # 3 degrees of freedom: p < 0.0002
  # Random ids cover the vocabulary evenly (10 bins of ids).
  bins = np.bincount(np.array(replaced) * 10 // len(vocab), minlength=10)
  expected = len(replaced) / 10
  assert ((bins - expected) ** 2 / expected).sum() < 35, bins  # 9 dof: p < 0.0001


@pytest.mark.parametrize("prob", [0.15, 0.2, 0.1, 0.5])
def test_count_rule_is_the_originals_arithmetic(prob):
  lengths = np.arange(1, 513)
  ours = dynamic_masking.num_to_predict(tf.constant(lengths), prob, 80).numpy()
  assert list(ours) == [_rule(n, prob, 80) for n in lengths]


@pytest.mark.slow
def test_reproducible_with_seed_and_fixed_in_evaluation(records_file, word_vocab):
  masking = dynamic_masking.DynamicMasking.from_vocab_file(word_vocab, _PROB, True)
  dataset = _dataset(records_file, masking, 8, seed=5)
  # Two passes from the start: nothing but the seed and the batch index decides the masks.
  a = _batches(records_file, masking, 8, 5, dataset=dataset)
  b = _batches(records_file, masking, 8, 5, dataset=dataset)
  c = _batches(records_file, masking, 8, 5, seed=6)
  for name in schema.FEATURE_NAMES:
    np.testing.assert_array_equal(a[name], b[name])
  assert not np.array_equal(a["masked_lm_positions"], c["masked_lm_positions"])
  # Evaluation: one mask per record, whatever the batch size, the seed and the pass.
  e4 = _batches(records_file, masking, 4, 30, is_training=False, seed=None)
  e5 = _batches(records_file, masking, 5, 24, is_training=False, seed=7)
  for name in schema.FEATURE_NAMES:
    np.testing.assert_array_equal(e4[name], e5[name])


def test_unmasked_records_from_create_pretraining_data(tmp_path, sample_corpus, sample_vocab):
  output = str(tmp_path / "unmasked.tfrecord")
  # A fresh process: no TensorFlow is imported on this path either.
  script = ("import sys\n"
            "from bert_mlm import create_pretraining_data\n"
            "options = create_pretraining_data.DataOptions(max_seq_length=64, dupe_factor=1, "
            "dynamic_masking=True)\n"
            "print(create_pretraining_data.create_pretraining_data(%r, %r, %r, options))\n"
            "assert 'tensorflow' not in sys.modules\n" % (sample_corpus, output, sample_vocab))
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 0, result.stderr[-2000:]
  vocab = tokenization.load_vocab(sample_vocab)
  examples = original.read_examples(output)
  assert len(examples) == int(result.stdout.split()[-1]) > 500
  for example in examples[:200]:
    assert sorted(example) == sorted(schema.UNMASKED_FEATURE_NAMES)
    ids = example["input_ids"][1]
    input_mask = example["input_mask"][1]
    n = sum(input_mask)
    assert len(ids) == 64 and input_mask == [1] * n + [0] * (64 - n)
    assert ids[0] == vocab["[CLS]"] and ids[n - 1] == vocab["[SEP]"] and not any(ids[n:])
    assert vocab["[MASK]"] not in ids
    first_sep = ids.index(vocab["[SEP]"])
    assert example["segment_ids"][1] == [0] * (first_sep + 1) + [1] * (n - first_sep - 1) + [
        0] * (64 - n)
  # The pipeline reads them into the seven features, shaped as from masked records.
  masking = dynamic_masking.DynamicMasking(vocab, 0.15, False)
  record_layout.check_records([output], record_layout.RecordLayout(64, 10, masked=False))
  dataset = input_pipeline.make_dataset([output], 64, 10, 8, is_training=True, seed=1,
                                        masking=masking)
  masked_file = str(tmp_path / "masked.tfrecord")
  create_pretraining_data.create_pretraining_data(
      sample_corpus, masked_file, sample_vocab,
      create_pretraining_data.DataOptions(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=1))
  static = input_pipeline.make_dataset([masked_file], 64, 10, 8, is_training=True, seed=1)
  assert dataset.element_spec == static.element_spec
  # A layout that doesn't match the flag is an error naming the file and the way out.
  with pytest.raises(UsageError, match="already masked"):
    record_layout.check_records([masked_file], record_layout.RecordLayout(64, 10, masked=False))
  with pytest.raises(UsageError, match="pass --dynamic_masking=True"):
    record_layout.check_records([output], record_layout.RecordLayout(64, 10))


@pytest.mark.slow
def test_training_learns_and_evaluation_is_stable(tmp_path, sample_corpus, sample_vocab):
  records = str(tmp_path / "unmasked.tfrecord")
  create_pretraining_data.create_pretraining_data(
      sample_corpus, records, sample_vocab,
      create_pretraining_data.DataOptions(max_seq_length=64, dupe_factor=1, dynamic_masking=True))
  masking = dynamic_masking.DynamicMasking.from_vocab_file(sample_vocab, 0.15, True)
  options = loop.PretrainingOptions(
      bert_config=config_lib.BertConfig.from_json_file(
          os.path.join(helpers.REPO, "configs", "sample_tiny.json")),
      input_files=[records], output_dir=str(tmp_path / "out"), max_seq_length=64,
      max_predictions_per_seq=10, do_train=True, train_batch_size=32, eval_batch_size=16,
      learning_rate=1e-3, num_train_steps=100, num_warmup_steps=10, save_checkpoints_steps=100,
      iterations_per_loop=50, max_eval_steps=8, seed=1, dynamic_masking=masking, do_eval=True)
  strategy = distribute.get_strategy("one_device")
  history, first = loop.run_pretraining(options, strategy)
  losses = history["total_loss"]
  assert losses[-10:].mean() < losses[:10].mean() - 0.8, (losses[:10].mean(), losses[-10:].mean())
  # Evaluating the checkpoint again, in a new pipeline: the same masks, the same numbers.
  options.do_train = False
  _, second = loop.run_pretraining(options, strategy)
  assert first == second
  assert first["global_step"] == 100


@pytest.mark.slow
def test_flags_without_vocab_are_an_error(tmp_path):
  result = subprocess.run(
      [sys.executable, os.path.join(helpers.REPO, "run_pretraining.py"),
       "--bert_config_file=" + os.path.join(helpers.REPO, "configs", "sample_tiny.json"),
       "--input_file=" + os.path.join(helpers.REPO, "sample_data", "corpus.txt"),
       "--output_dir=" + str(tmp_path), "--do_train", "--dynamic_masking"],
      capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 1
  assert "run_pretraining.py: error: --dynamic_masking needs --vocab_file" in result.stderr
