"""shard_text: cuts at document boundaries only, balanced, deterministic, streaming."""

import os
import subprocess
import sys

import pytest

from bert_mlm import create_pretraining_data
from bert_mlm.data import sharding
from bert_mlm import tokenization
from bert_mlm.errors import UsageError
from tests import helpers


def _read(paths):
  data = b""
  for path in paths:
    with open(path, "rb") as f:
      data += f.read()
  return data


def _documents(paths, vocab):
  tokenizer = tokenization.FullTokenizer(vocab, True)
  return create_pretraining_data.read_documents(paths, tokenizer)


def test_shards_are_the_input_cut_at_document_boundaries(english_corpus, sample_vocab,
                                                         tmp_path):
  shards = sharding.shard_text(english_corpus, str(tmp_path / "a"), num_shards=7)
  assert [os.path.basename(p) for p in shards] == [
      "english-%05d-of-00007.txt" % i for i in range(7)]
  data = _read([english_corpus])
  assert _read(shards) == data  # nothing lost, nothing moved
  for path in shards[:-1]:  # each shard ends a document: its last line is blank
    assert _read([path]).endswith(b"\n\n")
  # Read shard after shard, the documents are the input's.
  assert _documents(shards, sample_vocab) == _documents([english_corpus], sample_vocab)
  # Balanced: each shard within the largest document of its share.
  largest_document = max(len(d) + 2 for d in data.split(b"\n\n"))
  for path in shards:
    assert abs(os.path.getsize(path) - len(data) / 7) <= largest_document
  # Deterministic.
  again = sharding.shard_text(english_corpus, str(tmp_path / "b"), num_shards=7)
  assert [_read([p]) for p in again] == [_read([p]) for p in shards]


def test_shard_megabytes_and_several_inputs_as_one_stream(tmp_path, sample_vocab):
  first, second = tmp_path / "first.txt", tmp_path / "second.txt"
  # The first file ends inside a document (no blank line, no newline): as in one run of the
  # original, the document runs on into the second file. '\r' is dropped, as TF's reader does.
  first.write_bytes(b"\n\nThe cat sat.\r\nOn the mat.\n\n\n \t\nA dog ran.\nFar away")
  second.write_bytes(b"into the hills.\n\nBirds sang.\nLoudly.\n\nEnd.\n")
  inputs = "%s,%s" % (first, second)
  shards = sharding.shard_text(inputs, str(tmp_path / "out"), shard_megabytes=30e-6)
  assert len(shards) == 4 and shards[0].endswith("first-00000-of-00004.txt")
  assert _read(shards) == (b"The cat sat.\nOn the mat.\n\n\n \t\nA dog ran.\nFar away\n"
                           b"into the hills.\n\nBirds sang.\nLoudly.\n\nEnd.\n")
  assert _documents(shards, sample_vocab) == _documents([str(first), str(second)],
                                                        sample_vocab)
  assert [len(_documents([p], sample_vocab)) for p in shards] == [1, 1, 1, 1]
  assert _read(shards[1:2]) == b"A dog ran.\nFar away\ninto the hills.\n\n"


def test_fewer_documents_than_shards(tmp_path):
  corpus = tmp_path / "small.txt"
  corpus.write_text("One.\n\nTwo.\n\nThree.\n")
  shards = sharding.shard_text(str(corpus), str(tmp_path / "out"), num_shards=5)
  assert [os.path.basename(p) for p in shards] == ["small-%05d-of-00003.txt" % i
                                                   for i in range(3)]
  assert [_read([p]) for p in shards] == [b"One.\n\n", b"Two.\n\n", b"Three.\n"]


def test_earlier_shards_need_overwrite_and_are_replaced(tmp_path, english_corpus):
  out = str(tmp_path / "out")
  sharding.shard_text(english_corpus, out, num_shards=4)
  with pytest.raises(UsageError, match="already holds shards of english"):
    sharding.shard_text(english_corpus, out, num_shards=3)
  shards = sharding.shard_text(english_corpus, out, num_shards=3, overwrite=True)
  assert sorted(os.listdir(out)) == sorted(os.path.basename(p) for p in shards)


@pytest.mark.parametrize("content, flags, message", [
    (b"fine\n\nbroken \xc3\x28\n", dict(num_shards=2), "bad.txt:3: not valid UTF-8"),
    (b"\n \n\t\n", dict(num_shards=2), "holds no text"),
    (b"text\n", dict(), "exactly one of --num_shards and --shard_megabytes"),
    (b"text\n", dict(num_shards=2, shard_megabytes=1.0), "exactly one of"),
    (b"text\n", dict(num_shards=0), "--num_shards=0"),
    (b"text\n", dict(shard_megabytes=-1.0), "--shard_megabytes=-1.0"),
])
def test_bad_input(tmp_path, content, flags, message):
  bad = tmp_path / "bad.txt"
  bad.write_bytes(content)
  with pytest.raises(UsageError, match=message.replace("(", r"\(")):
    sharding.shard_text(str(bad), str(tmp_path / "out"), **flags)
  out = tmp_path / "out"
  assert not out.exists() or not os.listdir(str(out))  # no shard, no temporary


def test_command_line_streams_in_constant_memory(tmp_path):
  # 40 MB of text: a run that held it would peak far above the interpreter's own ~30 MB.
  corpus = tmp_path / "big.txt"
  document = ("A sentence of the corpus, with some words in it.\n" * 20 + "\n").encode()
  with open(str(corpus), "wb") as f:
    for _ in range(40 * 10**6 // len(document)):
      f.write(document)
  script = os.path.join(helpers.REPO, "shard_text.py")
  argv = [script, "--input_file=" + str(corpus), "--output_dir=" + str(tmp_path / "out"),
          "--shard_megabytes=10"]
  # The script's own peak, read in its process (VmHWM) as it exits: a child's ru_maxrss would
  # include this test process's memory, which the child shares from fork until exec.
  wrapper = ("import runpy, sys\nsys.argv = %r\ntry:\n  runpy.run_path(%r, run_name='__main__')"
             "\nfinally:\n  print([l for l in open('/proc/self/status') if l.startswith("
             "'VmHWM')][0].split()[1])" % (argv, script))
  result = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  assert len(os.listdir(str(tmp_path / "out"))) == 4
  peak_kb = int(result.stdout.split()[-1])
  assert peak_kb / 1024 < 60, peak_kb
  assert "Shard 4/4 done" in result.stderr


def test_command_line_error_is_one_line(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(helpers.REPO, "shard_text.py"),
                           "--input_file=" + str(tmp_path / "none*.txt"),
                           "--output_dir=" + str(tmp_path / "out"), "--num_shards=3"],
                          capture_output=True, text=True)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "shard_text.py: error: --input_file: no file matches" in result.stderr
