"""tf.gfile semantics without TensorFlow: glob order, line reading, atomic outputs."""

import os

import pytest
import tensorflow as tf

from bert_mlm.storage import atomic
from bert_mlm.storage import file_io


@pytest.fixture
def tree(tmp_path):
  names = ["b.txt", "2.txt", "z.txt", "A_.txt", "10.txt", ".hidden.txt", "c.md"] + [
      "f%03d.txt" % i for i in range(60)]
  for name in names:
    (tmp_path / name).write_text("x")
  for sub in ("s1", "s0"):
    (tmp_path / sub).mkdir()
    for name in ("q.txt", "p.txt"):
      (tmp_path / sub / name).write_text("y")
  return tmp_path


@pytest.mark.parametrize("pattern", ["*.txt", "*", "?.txt", "[ab2].txt", "f0[1-3]*.txt",
                                     "s0/*", "b.txt", "missing.txt", "nope/*.txt"])
def test_glob_matches_tensorflow_order(tree, pattern, monkeypatch):
  monkeypatch.chdir(tree)
  assert file_io.glob(pattern) == tf.io.gfile.glob(pattern)
  absolute = str(tree) + "/" + pattern
  assert file_io.glob(absolute) == tf.io.gfile.glob(absolute)


def test_glob_with_wildcard_directories(tree, monkeypatch):
  # TensorFlow expands wildcard directories in parallel, so its order across directories varies
  # from call to call (and so does the original's output); ours is one of its orders.
  monkeypatch.chdir(tree)
  ours = file_io.glob("*/*.txt")
  assert sorted(ours) == sorted(tf.io.gfile.glob("*/*.txt"))
  assert ours == [os.path.join(".", d, n) for d in os.listdir(".") if os.path.isdir(d)
                  for n in os.listdir(d) if n.endswith(".txt")]


def test_read_text_lines_matches_gfile_readline(tmp_path):
  path = str(tmp_path / "t.txt")
  with open(path, "wb") as f:
    f.write("one\r\ntwo\rthree\n\u2028four\x85\x0c\n\nlast".encode("utf-8"))
  expected = []
  with tf.io.gfile.GFile(path, "r") as reader:
    while True:
      line = reader.readline()
      if not line:
        break
      expected.append(line)
  assert [line for _, line in file_io.read_text_lines(path)] == expected


def test_atomic_outputs_commit_and_discard(tmp_path):
  a, b = str(tmp_path / "a"), str(tmp_path / "b")
  with open(b, "wb") as f:
    f.write(b"old")
  with pytest.raises(RuntimeError):
    with atomic.AtomicOutputs([a, b]) as (fa, fb):
      fa.write(b"new a")
      fb.write(b"new b")
      raise RuntimeError("interrupted")
  assert not os.path.exists(a) and open(b, "rb").read() == b"old"
  assert sorted(os.listdir(str(tmp_path))) == ["b"]
  with atomic.AtomicOutputs([a, b]) as (fa, fb):
    fa.write(b"new a")
    fb.write(b"new b")
    assert not os.path.exists(a)  # nothing under the final name until complete
  assert open(a, "rb").read() == b"new a" and open(b, "rb").read() == b"new b"
  assert sorted(os.listdir(str(tmp_path))) == ["a", "b"]
