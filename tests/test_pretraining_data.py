"""Data creation: the original's examples, feature for feature, and clear errors on bad input."""

import os
import random
import shutil
import subprocess
import sys

import pytest

from bert_mlm import create_pretraining_data
from bert_mlm import tokenization
from reference import original
from tests import helpers


def _ours(input_file, output_file, vocab_file, **flags):
  options = create_pretraining_data.DataOptions(**flags)
  return create_pretraining_data.create_pretraining_data(input_file, output_file, vocab_file, options)


def _assert_same_outputs(ours, theirs):
  for our_path, their_path in zip(ours.split(","), theirs.split(",")):
    our_examples = original.read_examples(our_path)
    their_examples = original.read_examples(their_path)
    assert their_examples, their_path
    assert len(our_examples) == len(their_examples)
    for index, (a, b) in enumerate(zip(our_examples, their_examples)):
      assert a == b, "example %d of %s differs" % (index, our_path)



@pytest.mark.slow
@pytest.mark.parametrize("flags", [
    dict(dupe_factor=2),
    dict(max_seq_length=512, max_predictions_per_seq=76, random_seed=7, dupe_factor=1),
    dict(do_lower_case=False, random_seed=3, dupe_factor=1, short_seq_prob=0.5),
], ids=["seq128", "seq512", "cased"])
def test_english_matches_original(flags, english_corpus, minilm_vocab, tmp_path):
  ours, theirs = str(tmp_path / "ours.tfrecord"), str(tmp_path / "theirs.tfrecord")
  written = _ours(english_corpus, ours, minilm_vocab, **flags)
  original.run_original_create_pretraining_data(english_corpus, theirs, minilm_vocab, **flags)
  assert written > 100
  _assert_same_outputs(ours, theirs)


@pytest.mark.slow
def test_several_inputs_by_glob_and_list_and_several_outputs(english_corpus, minilm_vocab,
                                                            tmp_path):
  inputs = tmp_path / "in"
  inputs.mkdir()
  helpers.split_corpus(english_corpus, str(inputs), 4)
  # A glob (read in directory order, as tf.gfile.Glob) plus a second pattern.
  shutil.copy(str(inputs / "part-0.txt"), str(tmp_path / "extra.txt"))
  input_file = "%s/part-*.txt,%s" % (inputs, tmp_path / "extra.txt")
  ours = ",".join(str(tmp_path / ("ours-%d" % i)) for i in range(3))
  theirs = ",".join(str(tmp_path / ("theirs-%d" % i)) for i in range(3))
  flags = dict(random_seed=99, dupe_factor=3, max_seq_length=64, max_predictions_per_seq=10)
  _ours(input_file, ours, minilm_vocab, **flags)
  original.run_original_create_pretraining_data(input_file, theirs, minilm_vocab, **flags)
  _assert_same_outputs(ours, theirs)


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_multilingual_matches_original(seed, multilingual_corpus, minilm_vocab, tmp_path):
  ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
  flags = dict(random_seed=seed, dupe_factor=5, max_seq_length=32, max_predictions_per_seq=5,
               masked_lm_prob=0.2, short_seq_prob=0.3)
  _ours(multilingual_corpus, ours, minilm_vocab, **flags)
  original.run_original_create_pretraining_data(multilingual_corpus, theirs, minilm_vocab,
                                                **flags)
  _assert_same_outputs(ours, theirs)


@pytest.mark.slow
def test_sample_corpus_matches_original(sample_corpus, sample_vocab, tmp_path):
  ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
  flags = dict(dupe_factor=1, random_seed=5, masked_lm_prob=1.0, max_predictions_per_seq=200,
               max_seq_length=256)
  _ours(sample_corpus, ours, sample_vocab, **flags)
  original.run_original_create_pretraining_data(sample_corpus, theirs, sample_vocab, **flags)
  _assert_same_outputs(ours, theirs)


def test_command_line_matches_original(multilingual_corpus, minilm_vocab, tmp_path):
  ours, theirs = str(tmp_path / "a,") + str(tmp_path / "b"), str(tmp_path / "c,") + str(
      tmp_path / "d")
  subprocess.run([sys.executable, os.path.join(helpers.REPO, "create_pretraining_data.py"),
                  "--input_file=" + multilingual_corpus, "--output_file=" + ours,
                  "--vocab_file=" + minilm_vocab, "--do_lower_case=false", "--random_seed=11",
                  "--dupe_factor=3", "--max_seq_length=48"], check=True, capture_output=True)
  original.run_original_create_pretraining_data(multilingual_corpus, theirs, minilm_vocab,
                                                do_lower_case=False, random_seed=11,
                                                dupe_factor=3, max_seq_length=48)
  _assert_same_outputs(ours, theirs)


# --- Whole-word masking (the master branch's algorithm; the PyPI release predates it) ---------

_WWM_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "un", "##believ", "##able",
              "story", "of", "cat", "dog", "##gy"]


def _masker(whole_word, max_predictions=20, masked_lm_prob=0.15):
  vocab = {t: i for i, t in enumerate(_WWM_VOCAB)}
  return create_pretraining_data.MaskedLmMasker(vocab, masked_lm_prob, max_predictions, whole_word)


def _ids(*tokens):
  return [_WWM_VOCAB.index(t) for t in tokens]


def test_whole_word_masking_by_hand():
  # [CLS] the un ##believ ##able story [SEP] dog ##gy ##s? -> words: {1}, {2,3,4}, {5} | {7,8}
  tokens_a = _ids("the", "un", "##believ", "##able", "story")
  tokens_b = _ids("dog", "##gy")
  masker = _masker(True, masked_lm_prob=0.4)  # round(10 * 0.4) = 4 predictions
  rng = random.Random(14)
  instance = masker.create_instance(list(tokens_a), list(tokens_b), False, rng)
  # Derivation with the same stream: the original shuffles the list of words, then takes words in
  # order while they fit, drawing random() (and maybe random()/randint()) per token.
  replay = random.Random(14)
  words = [[1], [2, 3, 4], [5], [7, 8]]
  replay.shuffle(words)
  assert words == [[2, 3, 4], [7, 8], [5], [1]]  # fixed by seed 14
  # 3 tokens of "unbelievable" fit (3 <= 4); "doggy" (2) would make 5 > 4: skipped; then
  # "story" makes 4; then the count is reached.
  assert instance.masked_lm_positions == [2, 3, 4, 5]
  assert instance.masked_lm_ids == _ids("un", "##believ", "##able", "story")
  expected = [2] + tokens_a + [3] + tokens_b + [3]
  for position in (2, 3, 4, 5):
    if replay.random() < 0.8:
      expected[position] = 4
    elif replay.random() >= 0.5:
      expected[position] = replay.randint(0, len(_WWM_VOCAB) - 1)
  assert instance.input_ids == expected
  assert rng.random() == replay.random()  # both consumed the same draws


def test_whole_word_masking_joins_piece_after_sep_to_previous_word():
  # A "##" piece first in segment B (left by truncation) joins the last word of A, as in master.
  masker = _masker(True, masked_lm_prob=1.0)
  for seed in range(20):
    instance = masker.create_instance(_ids("the", "story"), _ids("##gy", "of"), True,
                                      random.Random(seed))
    positions = set(instance.masked_lm_positions)
    assert (2 in positions) == (4 in positions), seed


@pytest.mark.parametrize("seed", range(10))
def test_whole_word_masking_masks_words_whole(seed):
  rng = random.Random(seed)
  tokens = _ids("the", "un", "##believ", "##able", "story", "of", "dog", "##gy", "the", "cat")
  masker = _masker(True, max_predictions=5, masked_lm_prob=0.5)
  instance = masker.create_instance(tokens[:5], tokens[5:], False, rng)
  positions = set(instance.masked_lm_positions)
  words = [{1}, {2, 3, 4}, {5}, {7}, {8, 9}, {10}, {11}]
  for word in words:
    assert not positions & word or word <= positions
  assert 1 <= len(positions) <= 5


@pytest.mark.parametrize("seed", range(10))
def test_whole_word_masking_without_pieces_equals_token_masking(seed):
  # With no "##" pieces every word is one token: the same draws, so the same instance.
  tokens = _ids("the", "story", "of", "the", "cat", "dog", "story", "of", "the")
  a = _masker(True).create_instance(tokens[:4], tokens[4:], True, random.Random(seed))
  b = _masker(False).create_instance(tokens[:4], tokens[4:], True, random.Random(seed))
  assert a == b


def test_whole_word_masking_end_to_end(english_corpus, minilm_vocab, tmp_path):
  out = str(tmp_path / "wwm")
  _ours(english_corpus, out, minilm_vocab, do_whole_word_mask=True, dupe_factor=1)
  vocab = tokenization.load_vocab(minilm_vocab)
  inv = {i: t for t, i in vocab.items()}
  split_words = 0
  for example in original.read_examples(out):
    ids = example["input_ids"][1]
    positions = set(p for p, w in zip(example["masked_lm_positions"][1],
                                      example["masked_lm_weights"][1]) if w)
    labels = dict(zip(example["masked_lm_positions"][1], example["masked_lm_ids"][1]))
    original_ids = [labels.get(i, t) if i in positions else t for i, t in enumerate(ids)]
    for i in range(1, len(ids)):
      # (A piece right after [CLS] has no word to join; one right after [SEP] joins the word
      # before the [SEP], checked by hand above.)
      if inv[original_ids[i]].startswith("##") and inv[original_ids[i - 1]] not in ("[CLS]",
                                                                                     "[SEP]"):
        # A piece and the token before it are masked together or not at all.
        assert (i in positions) == (i - 1 in positions)
        split_words += i in positions
  assert split_words > 20


# --- Bad input ---------------------------------------------------------------------------------


@pytest.fixture
def small_inputs(tmp_path, minilm_vocab):
  corpus = tmp_path / "corpus.txt"
  corpus.write_text("One sentence here.\nAnother one.\n\nA second document.\nWith two lines.\n")
  return str(corpus), minilm_vocab


def _error(tmp_path, input_file, vocab_file, output_file=None, **flags):
  output_file = output_file or str(tmp_path / "out.tfrecord")
  with pytest.raises((ValueError, OSError)) as info:
    _ours(input_file, output_file, vocab_file, **flags)
  for path in output_file.split(","):
    assert not os.path.exists(path) or open(path, "rb").read() == b"precious"
  leftovers = [n for n in os.listdir(str(tmp_path)) if ".incomplete-" in n]
  assert not leftovers
  return str(info.value)


def test_missing_input(tmp_path, small_inputs):
  _, vocab = small_inputs
  message = _error(tmp_path, str(tmp_path / "missing*.txt"), vocab)
  assert "--input_file" in message and "missing*.txt" in message


def test_empty_input(tmp_path, small_inputs):
  _, vocab = small_inputs
  empty = tmp_path / "empty.txt"
  empty.write_text("\n \n\t\n")
  assert "hold no text" in _error(tmp_path, str(empty), vocab)


def test_invalid_utf8_names_file_and_line(tmp_path, small_inputs):
  _, vocab = small_inputs
  bad = tmp_path / "bad.txt"
  bad.write_bytes(b"fine line\nanother\nbroken \xc3\x28 here\n")
  assert "bad.txt:3: not valid UTF-8" in _error(tmp_path, str(bad), vocab)


@pytest.mark.parametrize("token", ["[CLS]", "[SEP]", "[MASK]", "[UNK]"])
def test_vocab_without_special_token(tmp_path, small_inputs, token):
  corpus, vocab = small_inputs
  lines = [l for l in open(vocab, encoding="utf-8").read().split("\n") if l != token]
  reduced = tmp_path / "vocab.txt"
  reduced.write_text("\n".join(lines))
  message = _error(tmp_path, corpus, str(reduced))
  assert token in message and "vocab.txt" in message


@pytest.mark.parametrize("flags, flag_name", [
    (dict(max_seq_length=4), "--max_seq_length"),
    (dict(masked_lm_prob=0.0), "--masked_lm_prob"),
    (dict(masked_lm_prob=1.5), "--masked_lm_prob"),
    (dict(masked_lm_prob=-0.1), "--masked_lm_prob"),
    (dict(dupe_factor=0), "--dupe_factor"),
    (dict(short_seq_prob=2.0), "--short_seq_prob"),
    (dict(max_predictions_per_seq=-1), "--max_predictions_per_seq"),
])
def test_bad_flags(tmp_path, small_inputs, flags, flag_name):
  corpus, vocab = small_inputs
  assert flag_name in _error(tmp_path, corpus, vocab, **flags)


def test_smallest_max_seq_length_works(tmp_path, small_inputs):
  corpus, vocab = small_inputs
  assert _ours(corpus, str(tmp_path / "out"), vocab, max_seq_length=5, dupe_factor=3) > 0


def test_unwritable_output_directory(tmp_path, small_inputs):
  corpus, vocab = small_inputs
  message = _error(tmp_path, corpus, vocab, output_file=str(tmp_path / "no" / "such" / "out"))
  assert "no/such" in message


def test_failure_keeps_existing_outputs(tmp_path, small_inputs):
  corpus, vocab = small_inputs
  bad = tmp_path / "bad.txt"
  bad.write_bytes(open(corpus, "rb").read() + b"\xff\n")
  out = tmp_path / "out.tfrecord"
  out.write_bytes(b"precious")
  _error(tmp_path, str(bad), vocab, output_file=str(out))
  assert out.read_bytes() == b"precious"


def test_output_named_twice(tmp_path, small_inputs):
  corpus, vocab = small_inputs
  out = str(tmp_path / "o")
  assert "named twice" in _error(tmp_path, corpus, vocab, output_file=out + "," + out)


def test_command_line_error_is_one_clear_line(tmp_path, small_inputs):
  _, vocab = small_inputs
  result = subprocess.run(
      [sys.executable, os.path.join(helpers.REPO, "create_pretraining_data.py"),
       "--input_file=" + str(tmp_path / "nothing.txt"), "--output_file=" + str(tmp_path / "o"),
       "--vocab_file=" + vocab], capture_output=True, text=True)
  assert result.returncode == 1
  assert "error: --input_file: no file matches" in result.stderr
  assert "Traceback" not in result.stderr


def test_output_that_is_an_input(tmp_path, small_inputs):
  corpus, vocab = small_inputs
  before = open(corpus, "rb").read()
  with pytest.raises(ValueError, match="would overwrite the input file"):
    _ours(corpus, str(tmp_path / "x") + "," + corpus, vocab)
  assert open(corpus, "rb").read() == before


def test_the_data_side_never_imports_tensorflow(tmp_path, sample_corpus, sample_vocab):
  """README's promise: data creation on local files runs without TensorFlow (3 s, 700 MB)."""
  script = (
      "import sys\n"
      "sys.argv = ['create_pretraining_data.py', '--input_file=%s', '--vocab_file=%s',\n"
      "            '--output_file=%s', '--dupe_factor=1', '--max_seq_length=32']\n"
      "import runpy\n"
      "try:\n"
      "  runpy.run_path(%r, run_name='__main__')\n"
      "except SystemExit as e:\n"
      "  assert not e.code, e.code\n"
      "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
      "print('LOADED', loaded)\n"
      % (sample_corpus, sample_vocab, tmp_path / "out.tfrecord",
         os.path.join(helpers.REPO, "create_pretraining_data.py")))
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=helpers.REPO)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "LOADED []" in result.stdout, result.stdout[-2000:]
  assert os.path.getsize(str(tmp_path / "out.tfrecord")) > 0
