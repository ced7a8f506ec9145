"""create_vocab.py: the original's layout, the exact size, determinism, and a usable vocabulary."""

import os
import subprocess
import sys

import pytest

from bert_mlm import create_pretraining_data
from bert_mlm import tokenization
from bert_mlm.data import vocab_learning
from bert_mlm.errors import UsageError
from tests import helpers


def _create_vocab(input_file, output_file, *flags, hash_seed="0"):
  """Runs create_vocab.py in a fresh process; returns the completed process."""
  env = dict(os.environ, PYTHONPATH=helpers.REPO, PYTHONHASHSEED=hash_seed)
  return subprocess.run(
      [sys.executable, os.path.join(helpers.REPO, "create_vocab.py"), "--input_file=" + input_file,
       "--output_file=" + output_file] + list(flags), capture_output=True, text=True, env=env)


def _read(path):
  with open(path, encoding="utf-8") as f:
    return f.read().split("\n")[:-1]


def test_layout_size_and_determinism(tmp_path, sample_corpus):
  first, second = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
  result = _create_vocab(sample_corpus, first, "--vocab_size=1500")
  assert result.returncode == 0, result.stderr[-2000:]
  # Another process with another string hash seed: the same bytes.
  result = _create_vocab(sample_corpus, second, "--vocab_size=1500", hash_seed="12345")
  assert result.returncode == 0, result.stderr[-2000:]
  with open(first, "rb") as a, open(second, "rb") as b:
    assert a.read() == b.read()
  tokens = _read(first)
  assert len(tokens) == 1500
  assert tokens[:100] == ["[PAD]"] + ["[unused%d]" % i for i in range(99)]
  assert tokens[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  vocab = tokenization.load_vocab(first)  # no repeated token, every line a token
  assert len(vocab) == 1500
  learned = tokens[104:]
  assert all(t and not any(c.isspace() for c in t) for t in learned)
  assert "the" in vocab and "." in vocab and "##s" in vocab
  # Room left after the learned tokens is filled with further [unusedK].
  unused = [t for t in learned if t.startswith("[unused")]
  assert unused == ["[unused%d]" % i for i in range(99, 99 + len(unused))]
  assert learned[:len(learned) - len(unused)] == [
      t for t in learned if not t.startswith("[unused")]


def test_no_tensorflow_import(tmp_path, sample_corpus):
  """The data side's rule holds for the learner too: it is loaded without TensorFlow."""
  script = (
      "import sys\n"
      "from bert_mlm.data import vocab_learning\n"
      "vocab_learning.create_vocab(%r, %r, vocab_learning.VocabOptions(vocab_size=1200))\n"
      "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
      "assert 'tensorflow_text' not in sys.modules\n"
      % (sample_corpus, str(tmp_path / "v.txt")))
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=helpers.REPO))
  assert result.returncode == 0, result.stderr[-2000:]


def _documents(path):
  documents = [[]]
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.strip():
        documents[-1].append(line)
      elif documents[-1]:
        documents.append([])
  return [d for d in documents if d]


@pytest.mark.slow
def test_held_out_unknown_rate_against_the_released_vocab(tmp_path, english_corpus, minilm_vocab):
  """Learn on four documents in five, measure on the fifth, beside the released uncased vocab."""
  documents = _documents(english_corpus)
  train = [line for i, d in enumerate(documents) if i % 5 for line in d + ["\n"]]
  held_out = [line for i, d in enumerate(documents) if not i % 5 for line in d]
  train_file = tmp_path / "train.txt"
  train_file.write_text("".join(train), encoding="utf-8")
  vocab_file = str(tmp_path / "vocab.txt")
  vocab_learning.create_vocab(str(train_file), vocab_file,
                              vocab_learning.VocabOptions(vocab_size=4000, lower_thresh=3))
  ours = vocab_learning.coverage(tokenization.FullTokenizer(vocab_file), held_out)
  released = vocab_learning.coverage(tokenization.FullTokenizer(minilm_vocab), held_out)
  print("held-out [UNK] rate / tokens per word: learned 4000 %.4f / %.3f, released 30522 "
        "%.4f / %.3f (%d words)" % (ours[0], ours[1], released[0], released[1], ours[2]))
  # Docstring prose: a tenth of the released vocabulary, learned on 0.25 MB, leaves few words
  # unknown (every character of the training text is a piece) and cuts them into few pieces.
  assert ours[0] < 0.002
  assert ours[1] < released[1] * 1.15
  # And it is accepted by create_pretraining_data.py as it is.
  output = str(tmp_path / "out.tfrecord")
  count = create_pretraining_data.create_pretraining_data(
      str(train_file), output, vocab_file, create_pretraining_data.DataOptions(dupe_factor=1))
  assert count > 100


@pytest.mark.slow
def test_reaches_the_size_asked(tmp_path, english_corpus):
  """0.3 MB of prose has more than 3000 distinct pieces, but few occur the default
  --lower_thresh=10 times: the search goes on below it, and the vocabulary is learned tokens,
  not [unusedK] filler."""
  output = str(tmp_path / "vocab.txt")
  result = _create_vocab(english_corpus, output, "--vocab_size=3000")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "short of --vocab_size=3000; adding the pieces of the thresholds below" in result.stderr
  tokens = _read(output)
  assert len(tokens) == 3000
  learned = [t for t in tokens[104:] if not t.startswith("[unused")]
  assert len(learned) >= 0.9 * 3000, len(learned)
  assert "Learned %d tokens" % len(learned) in result.stderr


def test_fit_to_size():
  reserved = vocab_learning.reserved_tokens(2)
  assert reserved == ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  learned = reserved + ["a", "b", "##a", "##b", "ab", "ba", "##ab"]
  # Too many: the last multi-character pieces go, characters stay.
  tokens, filled, dropped = vocab_learning.fit_to_size(learned, reserved, 12)
  assert tokens == reserved + ["a", "b", "##a", "##b", "ab"] and (filled, dropped) == (0, 2)
  # Too few: further [unusedK], numbered on.
  tokens, filled, dropped = vocab_learning.fit_to_size(learned, reserved, 16)
  assert tokens == learned + ["[unused2]", "[unused3]"] and (filled, dropped) == (2, 0)
  with pytest.raises(UsageError, match="too small"):
    vocab_learning.fit_to_size(learned, reserved, 9)


@pytest.mark.parametrize("flags, message", [
    (["--vocab_size=50"], "--vocab_size=50 leaves no room"),
    (["--num_unused_tokens=-1"], "--num_unused_tokens=-1 must be >= 0"),
    (["--slack_ratio=1.5"], "--slack_ratio=1.5"),
    (["--lower_thresh=20", "--upper_thresh=10"], "--lower_thresh=20 is above"),
])
def test_bad_flags_are_one_line_errors(tmp_path, sample_corpus, flags, message):
  result = _create_vocab(sample_corpus, str(tmp_path / "v.txt"), *flags)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith("create_vocab.py: error: ")
  assert message in result.stderr
  assert not os.path.exists(str(tmp_path / "v.txt"))


def test_missing_input_and_empty_input(tmp_path):
  result = _create_vocab(str(tmp_path / "nope*.txt"), str(tmp_path / "v.txt"))
  assert result.returncode == 1 and "--input_file: no file matches" in result.stderr
  empty = tmp_path / "empty.txt"
  empty.write_text("\n\n")
  result = _create_vocab(str(empty), str(tmp_path / "v.txt"))
  assert result.returncode == 1 and "hold no words" in result.stderr
  assert not os.path.exists(str(tmp_path / "v.txt"))
