"""sample_data/: the committed corpus and vocab are exactly what make_sample_data.py writes."""

import json
import os
import subprocess
import sys

from bert_mlm import tokenization
from tests import helpers


def _read(path):
  with open(str(path), encoding="utf-8") as f:
    return f.read()


def test_regenerates_byte_identical(tmp_path):
  # A run in a fresh process (so hash randomization differs) must reproduce the committed bytes.
  subprocess.run([sys.executable, os.path.join(helpers.SAMPLE_DATA, "make_sample_data.py"),
                  "--out_dir", str(tmp_path)], check=True, capture_output=True)
  assert sorted(os.listdir(str(tmp_path))) == ["corpus.txt", "vocab.txt"]  # no .tmp left over
  for name in ("corpus.txt", "vocab.txt"):
    with open(str(tmp_path / name), "rb") as ours, \
        open(os.path.join(helpers.SAMPLE_DATA, name), "rb") as committed:
      assert ours.read() == committed.read(), (
          "sample_data/%s is not what make_sample_data.py writes; rerun it" % name)


def test_corpus_format(sample_corpus):
  text = _read(sample_corpus)
  assert text.endswith("\n") and not text.endswith("\n\n")
  documents = text[:-1].split("\n\n")
  for document in documents:
    sentences = document.split("\n")
    assert 3 <= len(sentences) <= 30 and all(s.strip() == s and s for s in sentences), document


def test_vocab_covers_corpus(sample_vocab, sample_corpus):
  vocab = _read(sample_vocab).splitlines()
  assert vocab[:15] == (["[PAD]"] + ["[unused%d]" % i for i in range(10)] +
                        ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
  assert len(set(vocab)) == len(vocab)
  tokenizer = tokenization.FullTokenizer(sample_vocab, do_lower_case=True)
  for line in _read(sample_corpus).splitlines():
    assert "[UNK]" not in tokenizer.tokenize(line), line


def test_sample_config_matches_vocab(sample_vocab):
  with open(os.path.join(helpers.REPO, "configs", "sample_tiny.json")) as f:
    config = json.load(f)
  assert config["vocab_size"] == len(_read(sample_vocab).splitlines())
