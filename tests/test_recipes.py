"""recipes/: every command of every recipe passes its command line's --dry_run, so none rots.

Each recipe is run as a user would dry-run it (`bash recipes/dry_run.sh <recipe>`): the real
scripts parse every flag and check it. The TPU recipe's paths are gs:// URLs, checked for their
form; the GPU recipes' paths are local, so the files their commands read (text, vocabulary,
TFRecords of each phase's lengths, each phase's checkpoint) are stood in by small ones and read.
"""

import os
import subprocess

import numpy as np
import pytest

from bert_mlm.storage import checkpoints
from bert_mlm.training import checkpoint_manager
from tests import helpers

_RECIPES = os.path.join(helpers.REPO, "recipes")
_DRY_RUN = os.path.join(_RECIPES, "dry_run.sh")
_BERT_BASE_VOCAB_SIZE = 30522


def _commands(recipe, env):
  """The scripts a recipe runs, in order (its python3 calls, intercepted)."""
  result = subprocess.run(
      ["bash", "-c", 'python3() { echo "$1"; }; source "$1"', _DRY_RUN, recipe],
      env=env, capture_output=True, text=True, check=True)
  return result.stdout.split()


def _dry_run(recipe, env):
  return subprocess.run(["bash", _DRY_RUN, recipe], env=env, capture_output=True, text=True)


def _passed(result):
  return [line.split("] ")[1].split(" dry run")[0] for line in result.stderr.splitlines()
          if "dry run: OK" in line]


def _checkpoint_dir(directory):
  """A small training checkpoint and its `checkpoint` file, standing in for a phase's output."""
  os.makedirs(directory, exist_ok=True)
  prefix = os.path.join(directory, "model.ckpt-1")
  checkpoints.save_checkpoint(prefix, {"global_step": np.int64(1)})
  checkpoint_manager.write_checkpoint_state(directory, [prefix])


def _local_work_dir(work):
  """The files bert_base_8gpu.sh and bert_base_lamb_8gpu.sh read, under $WORK."""
  os.makedirs(os.path.join(work, "text"))
  with open(os.path.join(work, "text", "a.txt"), "w") as f:
    f.write("The first sentence.\nThe second one.\n\nAnother document.\nIts end.\n")
  os.makedirs(os.path.join(work, "uncased_L-12_H-768_A-12"))
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += ["tok%d" % i for i in range(_BERT_BASE_VOCAB_SIZE - len(tokens))]
  with open(os.path.join(work, "uncased_L-12_H-768_A-12", "vocab.txt"), "w") as f:
    f.write("\n".join(tokens) + "\n")
  os.makedirs(os.path.join(work, "data"))
  config = dict(helpers.TRAIN_CONFIG, vocab_size=_BERT_BASE_VOCAB_SIZE)
  for seq, predictions in ((128, 20), (512, 80)):
    helpers.write_records(os.path.join(work, "data", "seq%d.tfrecord" % seq), [
        helpers.make_features(config, batch_size=2, seq_length=seq,
                              max_predictions=predictions)])
  for directory in ("bert_base/phase1", "bert_base/phase2", "bert_base_lamb/phase1",
                    "bert_base_lamb/phase2"):
    _checkpoint_dir(os.path.join(work, directory))


@pytest.mark.slow
def test_tpu_recipe_dry_runs():
  env = dict(os.environ, BUCKET="gs://bert-recipe-test", TPU_NAME="test-tpu")
  recipe = os.path.join(_RECIPES, "bert_base_tpu_v3-8.sh")
  commands = _commands(recipe, env)
  assert commands == ["create_pretraining_data.py"] * 2 + ["run_pretraining.py"] * 2 + [
      "strip_checkpoint.py"]
  result = _dry_run(recipe, env)
  assert result.returncode == 0, result.stderr[-3000:]
  assert _passed(result) == commands
  assert "batch sizes against 8 replica(s)" in result.stderr
  assert "--input_file=gs://bert-recipe-test/data/seq512/*.tfrecord" in result.stderr


@pytest.mark.slow
def test_gpu_recipes_dry_run_on_local_files(tmp_path):
  work = str(tmp_path / "work")
  _local_work_dir(work)
  env = dict(os.environ, WORK=work)
  for name, expected in (("bert_base_8gpu.sh", ["create_pretraining_data.py"] * 2 + [
      "run_pretraining.py"] * 2 + ["strip_checkpoint.py"]), ("bert_base_lamb_8gpu.sh", [
          "run_pretraining.py"] * 2 + ["strip_checkpoint.py"])):
    recipe = os.path.join(_RECIPES, name)
    assert _commands(recipe, env) == expected, name
    result = _dry_run(recipe, env)
    assert result.returncode == 0, (name, result.stderr[-3000:])
    assert _passed(result) == expected, name
    # Local files were read, not just named: the records' lengths against the flags.
    assert "2 local TFRecord file(s)" not in result.stderr
    assert result.stderr.count("1 local TFRecord file(s) (first record's feature lengths)") == 2
  assert sorted(os.listdir(work)) == ["bert_base", "bert_base_lamb", "data", "text",
                                      "uncased_L-12_H-768_A-12"]  # nothing written


@pytest.mark.slow
def test_dry_run_catches_what_the_real_run_would_fail_on(tmp_path):
  # A placeholder bucket left in (data creation needs no TensorFlow: this fails in a second).
  env = dict(os.environ, BUCKET="gs://YOUR_BUCKET", TPU_NAME="test-tpu")
  result = _dry_run(os.path.join(_RECIPES, "bert_base_tpu_v3-8.sh"), env)
  assert result.returncode == 1
  assert ("create_pretraining_data.py: error: --vocab_file=gs://YOUR_BUCKET/"
          "uncased_L-12_H-768_A-12/vocab.txt: 'YOUR_BUCKET' is not a Cloud Storage bucket "
          "name") in result.stderr
  # Records written for another length than the flags say.
  work = str(tmp_path / "work")
  _local_work_dir(work)
  recipe = str(tmp_path / "edited.sh")
  with open(os.path.join(_RECIPES, "bert_base_8gpu.sh")) as f:
    text = f.read()
  with open(recipe, "w") as f:
    f.write(text.replace('--input_file="$DATA/seq512.tfrecord"',
                         '--input_file="$DATA/seq128.tfrecord"').replace(
                             'cd "$(dirname "$0")/.."', "cd %s" % helpers.REPO))
  result = _dry_run(recipe, dict(os.environ, WORK=work))
  assert result.returncode == 1
  assert "feature input_ids has length 128 but --max_seq_length expects 512" in result.stderr
