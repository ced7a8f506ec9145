"""TF1-format checkpoints: names, global_step, slots, stripping, and clear errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm.errors import UsageError
from bert_mlm.storage import checkpoints
from bert_mlm.training import checkpoint_manager
from bert_mlm.config import BertConfig
from bert_mlm.model.pretraining_model import BertPretrainingModel
from tests import helpers

_SMALL = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=20, type_vocab_size=2)


def _save(model, prefix, **kwargs):
  return checkpoints.save_checkpoint(
      prefix, checkpoints.model_tensors(model.variables_by_name(), **kwargs))


def test_round_trip_with_global_step_and_slots(tmp_path):
  model = BertPretrainingModel(_SMALL)
  variables = model.variables_by_name()
  slots = {name: {"adam_m": tf.ones(v.shape) * 2, "adam_v": tf.ones(v.shape) * 3}
           for name, v in variables.items()}
  prefix = _save(model, str(tmp_path / "model.ckpt-12"), global_step=12, slots=slots)
  shapes = checkpoints.CheckpointReader(prefix).shapes
  assert len(shapes) == 3 * len(variables) + 1
  assert shapes["global_step"] == ()
  assert tf.train.load_checkpoint(prefix).get_tensor("global_step") == 12
  assert shapes["bert/encoder/layer_1/output/dense/kernel/adam_m"] == (32, 16)
  stripped = str(tmp_path / "bert_model.ckpt")
  kept = checkpoints.strip_optimizer_slots(prefix, stripped)
  assert set(kept) == set(variables) | {"global_step"}
  assert os.path.getsize(stripped + ".data-00000-of-00001") < os.path.getsize(
      prefix + ".data-00000-of-00001") / 2.5
  other = BertPretrainingModel(_SMALL)
  assert len(checkpoints.load_checkpoint(other.variables_by_name(), stripped)) == len(variables)
  for a, b in zip(model.weights, other.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow
def test_strip_command_line(tmp_path):
  prefix = _save(BertPretrainingModel(_SMALL), str(tmp_path / "m"),
                 slots={"cls/predictions/output_bias": {"adam_m": tf.zeros([50])}})
  subprocess.run([sys.executable, os.path.join(helpers.REPO, "strip_checkpoint.py"),
                  "--input_checkpoint=" + prefix, "--output_checkpoint=" + str(tmp_path / "s")],
                 check=True, capture_output=True)
  stripped = checkpoints.CheckpointReader(str(tmp_path / "s")).shapes
  assert not any(n.endswith("adam_m") for n in stripped)


def test_partial_checkpoint_loads_matching_names_only(tmp_path):
  source = BertPretrainingModel(_SMALL)
  prefix = checkpoints.save_checkpoint(
      str(tmp_path / "partial"),
      {n: v for n, v in source.variables_by_name().items() if n.startswith("bert/")})
  target = BertPretrainingModel(_SMALL)
  before = target.cls.seq_relationship.output_weights.numpy()
  loaded = checkpoints.load_checkpoint(target.variables_by_name(), prefix)
  assert loaded and all(n.startswith("bert/") for n in loaded)
  np.testing.assert_array_equal(target.cls.seq_relationship.output_weights.numpy(), before)
  np.testing.assert_array_equal(target.bert.embedding_table.numpy(),
                                source.bert.embedding_table.numpy())


def test_directory_resolves_to_latest(tmp_path):
  model = BertPretrainingModel(_SMALL)
  prefix = _save(model, str(tmp_path / "model.ckpt-3"))
  with open(str(tmp_path / "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "model.ckpt-3"\n')
  assert checkpoints.CheckpointReader(str(tmp_path)).path == prefix


def test_missing_checkpoint(tmp_path):
  with pytest.raises(UsageError, match="nope.ckpt"):
    checkpoints.load_checkpoint({}, str(tmp_path / "nope.ckpt"))
  with pytest.raises(UsageError, match="holds no checkpoint"):
    checkpoints.load_checkpoint({}, str(tmp_path))


def test_checkpoint_of_another_shape(tmp_path):
  large = BertPretrainingModel(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                                          num_attention_heads=2, intermediate_size=64,
                                          max_position_embeddings=20, type_vocab_size=2))
  prefix = _save(large, str(tmp_path / "large"))
  small = BertPretrainingModel(_SMALL)
  before = [w.numpy() for w in small.weights]
  with pytest.raises(ValueError, match=r"word_embeddings has shape \[50, 32\] but the model's "
                     r"has shape \[50, 16\] \(.* names differ; is it a checkpoint of another"):
    checkpoints.load_checkpoint(small.variables_by_name(), prefix)
  for a, b in zip(before, small.weights):  # nothing was assigned
    np.testing.assert_array_equal(a, b.numpy())


def test_vocab_size_mismatch_with_checkpoint(tmp_path):
  prefix = _save(BertPretrainingModel(_SMALL), str(tmp_path / "m"))
  other = BertConfig.from_dict(dict(_SMALL.to_dict(), vocab_size=60))
  with pytest.raises(ValueError, match="vocabulary has 50 tokens but the config's vocab_size is 60"):
    checkpoints.load_checkpoint(BertPretrainingModel(other).variables_by_name(), prefix)


def test_truncated_checkpoint(tmp_path):
  prefix = _save(BertPretrainingModel(_SMALL), str(tmp_path / "m"))
  data = prefix + ".data-00000-of-00001"
  with open(data, "rb") as f:
    content = f.read()
  with open(data, "wb") as f:
    f.write(content[:len(content) // 3])
  with pytest.raises(ValueError, match="truncated or corrupt"):
    checkpoints.load_checkpoint(BertPretrainingModel(_SMALL).variables_by_name(), prefix)
  with open(prefix + ".index", "wb") as f:
    f.write(b"garbage")
  with pytest.raises(ValueError, match="truncated or corrupt"):
    checkpoints.load_checkpoint(BertPretrainingModel(_SMALL).variables_by_name(), prefix)


def test_save_leaves_nothing_partial(tmp_path):
  with pytest.raises(UsageError, match="does not exist"):
    checkpoints.save_checkpoint(str(tmp_path / "no" / "m"), {"a": tf.zeros([2])})
  checkpoints.save_checkpoint(str(tmp_path / "m"), {"a": tf.zeros([2])})
  assert sorted(os.listdir(str(tmp_path))) == ["m.data-00000-of-00001", "m.index"]


def test_checkpoints_on_a_filesystem_with_a_scheme():
  # ram:// is reached only through tf.io.gfile, like gs://; there `isdir` is true for any prefix
  # of a file's name, so a prefix must be tried before "a directory with a `checkpoint` file".
  directory = "ram://checkpoints-test/out"
  prefix = _save(BertPretrainingModel(_SMALL), directory + "/model.ckpt-7", global_step=7)
  assert tf.io.gfile.isdir(prefix)  # the quirk
  assert checkpoints.CheckpointReader(prefix).path == prefix
  checkpoint_manager.write_checkpoint_state(directory, [prefix])
  with tf.io.gfile.GFile(directory + "/checkpoint") as f:
    assert f.read().splitlines()[0] == 'model_checkpoint_path: "model.ckpt-7"'  # relative
  assert checkpoints.CheckpointReader(directory).path == prefix
  assert checkpoints.CheckpointReader(directory).read("global_step") == 7
  # Absolute URLs, as the Estimator writes them on a bucket, are kept as they are (TensorFlow's
  # own get_checkpoint_state would join them onto the directory).
  tf.io.gfile.remove(directory + "/checkpoint")  # ram:// appends to an existing file on "w"
  with tf.io.gfile.GFile(directory + "/checkpoint", "w") as f:
    f.write('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n' % (prefix, prefix))
  assert checkpoints.read_checkpoint_state(directory) == [prefix]
  assert checkpoints.latest_checkpoint(directory) == prefix
  # Stripping writes into a new "directory" of the bucket.
  kept = checkpoints.strip_optimizer_slots(directory, "ram://checkpoints-test/release/m.ckpt")
  assert "global_step" in kept
  with pytest.raises(UsageError, match="does not exist"):
    checkpoints.CheckpointReader("ram://checkpoints-test/none/model.ckpt-1")
