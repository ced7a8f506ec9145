"""The Beam pipeline (DirectRunner, 2 workers, multi-processing) writes what --num_workers=2 does.

Needs the beam extra, which README's test command (and so CI) installs; no skip without it.
"""

import os
import subprocess
import sys

import apache_beam  # pylint: disable=unused-import  (fail here, clearly, without the extra)
import pytest

from bert_mlm.data import per_file
from bert_mlm import create_pretraining_data
from tests import helpers

_FLAGS = dict(dupe_factor=2, max_seq_length=64, max_predictions_per_seq=10, random_seed=3,
              do_whole_word_mask=True)


def _beam(*args):
  # Beam's workers are new interpreters: they find this checkout through PYTHONPATH.
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [helpers.REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
  return subprocess.run(
      [sys.executable, os.path.join(helpers.REPO, "create_pretraining_data_beam.py")] + list(args),
      capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_direct_runner_writes_what_the_worker_pool_writes(english_corpus, minilm_vocab,
                                                          tmp_path):
  inputs = tmp_path / "in"
  inputs.mkdir()
  with open(english_corpus, encoding="utf-8") as f:
    documents = [d for d in f.read().split("\n\n") if d.strip()]
  good = []
  for index, (start, end) in enumerate([(0, 10), (10, 40), (40, 100)]):
    good.append(str(inputs / ("good-%d.txt" % index)))
    with open(good[-1], "w", encoding="utf-8") as f:
      f.write("\n\n".join(documents[start:end]) + "\n")
  (inputs / "bad.txt").write_bytes(b"One fine line.\nBroken \xff here.\n")

  pool = tmp_path / "pool"
  per_file.create_per_file(",".join(good), str(pool), minilm_vocab,
                           create_pretraining_data.DataOptions(**_FLAGS), num_workers=2)
  flags = ["--vocab_file=" + minilm_vocab, "--do_whole_word_mask", "--dupe_factor=2",
           "--max_seq_length=64", "--max_predictions_per_seq=10", "--random_seed=3",
           "--runner=DirectRunner", "--direct_num_workers=2",
           "--direct_running_mode=multi_processing"]
  out = tmp_path / "beam"
  result = _beam("--input_file=%s/*.txt" % inputs, "--output_dir=" + str(out), *flags)
  # The bad file fails alone, named with its line; the job still writes every other output.
  assert result.returncode == 3, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("create_pretraining_data_beam.py: error: 1 of 4 input files failed")
  assert "bad.txt:2: not valid UTF-8" in last
  assert "Done: 3 files written, 0 skipped (outputs existed), 1 failed" in result.stderr
  assert "2 workers" in result.stderr  # both worker processes took files
  assert sorted(os.listdir(str(out))) == sorted(os.listdir(str(pool)))
  for name in os.listdir(str(pool)):
    with open(str(pool / name), "rb") as a, open(str(out / name), "rb") as b:
      assert a.read() == b.read(), name

  # A rerun on the good files finds them complete: nothing to do, no pipeline started.
  rerun = _beam("--input_file=" + ",".join(good), "--output_dir=" + str(out), *flags)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert "0 to do" in rerun.stderr and "3 skipped" in rerun.stderr


def test_beam_script_flag_errors(tmp_path, minilm_vocab):
  result = _beam("--input_file=x", "--output_file=" + str(tmp_path / "o"),
                 "--vocab_file=" + minilm_vocab)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "give --output_dir, not --output_file" in result.stderr
