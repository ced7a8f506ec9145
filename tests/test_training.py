"""run_pretraining's training and evaluation: parity with the original, replicas, resume, errors."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from bert_mlm.storage import checkpoints
from bert_mlm.training import checkpoint_manager
from bert_mlm.training import input_pipeline
from bert_mlm.training import loop
from bert_mlm.config import BertConfig
from bert_mlm.model import losses
from bert_mlm.errors import DivergedError
from bert_mlm.errors import UsageError
from bert_mlm.model.pretraining_model import BertPretrainingModel
from reference import original_model
from tests import helpers

_CONFIG = helpers.TRAIN_CONFIG
_SEQ, _PRED, _BATCH = 24, 4, 4


def _batches(count, seed=0):
  return [helpers.make_features(_CONFIG, batch_size=_BATCH, seq_length=_SEQ, max_predictions=_PRED,
                                seed=seed + s) for s in range(count)]


def _options(tmp_path, records, **kwargs):
  values = dict(learning_rate=1e-2, num_train_steps=6, num_warmup_steps=2,
                save_checkpoints_steps=3, iterations_per_loop=2, max_eval_steps=3)
  values.update(kwargs)
  return helpers.pretraining_options([records], tmp_path / "out", _CONFIG, _SEQ, _PRED, _BATCH,
                                     **values)


def _one_device():
  return tf.distribute.OneDeviceStrategy("/cpu:0")


@pytest.mark.slow
def test_training_matches_original_step_for_step(tmp_path):
  batches = _batches(6)
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), batches)
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, batches[0], save_checkpoint=init)
  theirs = original_model.run_original_training(_CONFIG, batches, init, 1e-2, 6, 2)
  history, _ = loop.run_pretraining(_options(tmp_path, records, init_checkpoint=init),
                                        _one_device())
  history = helpers.history_table(history)
  # Clipping is active (global norm above 1.0) and tokens repeat within a batch, so the update
  # depends on how the word-embedding gradient's rows are combined before the norm: summed
  # per token, as the original's graph aggregates them (counted row by row, the norm differs).
  model = BertPretrainingModel(BertConfig.from_dict(_CONFIG))
  checkpoints.load_checkpoint(model.variables_by_name(), init)
  with tf.GradientTape() as tape:
    loss = losses.pretraining_losses(model(batches[0], training=True), batches[0])["total_loss"]
  assert tf.linalg.global_norm(tape.gradient(loss, model.trainable_variables)) > 1.0
  assert len(np.unique(batches[0]["input_ids"])) < np.size(batches[0]["input_ids"])
  assert history.shape == (6, 4)
  for step, (ours, expected) in enumerate(zip(history, theirs["steps"])):
    np.testing.assert_allclose(
        ours, [expected[k] for k in ("total_loss", "masked_lm_loss", "next_sentence_loss",
                                     "learning_rate")], rtol=1e-5, atol=1e-7,
        err_msg="step %d" % step)
  final = tf.train.load_checkpoint(str(tmp_path / "out" / "model.ckpt-6"))
  assert final.get_tensor("global_step") == 6
  helpers.assert_states_close({n: final.get_tensor(n) for n in final.get_variable_to_shape_map()},
                              theirs["variables"])
  state = tf.train.get_checkpoint_state(str(tmp_path / "out"))
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
      "model.ckpt-0", "model.ckpt-3", "model.ckpt-6"]


def test_eval_metrics_match_original(tmp_path):
  batches = _batches(3, seed=10)
  records = helpers.write_records(str(tmp_path / "eval.tfrecord"), batches)
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, batches[0], save_checkpoint=init)
  _, result = loop.run_pretraining(
      _options(tmp_path, records, do_train=False, do_eval=True, init_checkpoint=init),
      _one_device())
  # The original's own model_fn (EVAL) and metric_fn, over the same checkpoint and batches.
  expected = original_model.run_original_eval(_CONFIG, batches, init)
  assert set(expected) == set(result) - {"global_step"}
  for key, value in expected.items():
    np.testing.assert_allclose(result[key], value, rtol=1e-5, err_msg=key)
  assert result["global_step"] == 0
  with open(str(tmp_path / "out" / "eval_results.txt")) as f:
    lines = f.read().splitlines()
  assert [line.split(" = ")[0] for line in lines] == sorted(result)
  assert lines[0] == "global_step = 0"
  # And as TensorBoard scalars in output_dir/eval at the global step, read by TensorBoard's
  # own event reader.
  scalars = helpers.read_scalars(str(tmp_path / "out" / "eval"))
  assert sorted(scalars) == sorted(set(result) - {"global_step"})
  for key, [(step, value)] in scalars.items():
    assert step == 0
    np.testing.assert_allclose(value, result[key], rtol=1e-6, err_msg=key)


@pytest.mark.slow
def test_eval_after_training_uses_the_weights_in_memory(tmp_path):
  """After train(), evaluation reads no checkpoint: a worker that isn't the chief may see the
  state file before the chief has saved the last checkpoint (it then evaluated model.ckpt-3's
  weights beside the chief's model.ckpt-6 in one collective sum)."""
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(6, seed=30))
  options = _options(tmp_path, records, do_eval=True, max_eval_steps=2)
  _, trained = loop.run_pretraining(options, _one_device())
  out = str(tmp_path / "out")
  assert trained["global_step"] == 6
  options = _options(tmp_path, records, do_eval=True, max_eval_steps=2,
                     output_dir=str(tmp_path / "again"))
  run = loop.Pretraining(options, _one_device())
  checkpoint_manager.CheckpointManager(out, run.variables, run.optimizer.slots,
                                       run.global_step).restore(
      os.path.join(out, "model.ckpt-6"))
  # What a non-chief worker would find mid-save: the state file still naming model.ckpt-3.
  os.makedirs(options.output_dir)
  checkpoint_manager.write_checkpoint_state(options.output_dir,
                                            [os.path.join(out, "model.ckpt-3")])
  in_memory = loop.evaluate(run, options, trained=True)
  assert in_memory.keys() == trained.keys() and in_memory["global_step"] == 6
  for name, value in trained.items():
    np.testing.assert_allclose(in_memory[name], value, rtol=1e-6, err_msg=name)
  from_directory = loop.evaluate(run, options)  # eval only: the latest checkpoint
  assert from_directory["global_step"] == 3
  assert from_directory["masked_lm_loss"] != trained["masked_lm_loss"]


@pytest.mark.slow
def test_two_replicas_equal_one_device(tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  batches = _batches(5, seed=20)
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), batches)
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, batches[0], save_checkpoint=init)
  result = subprocess.run([sys.executable, os.path.join(helpers.SCRIPTS, "mirrored_parity.py"),
                           helpers.REPO, json.dumps(_CONFIG), records, str(tmp_path), init],
                          capture_output=True, text=True)
  assert "MIRRORED_OK" in result.stdout, result.stderr[-3000:]


@pytest.mark.slow
def test_same_seed_same_checkpoints(tmp_path):
  config = dict(_CONFIG, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(4, seed=30))
  finals = []
  for run in ("a", "b"):
    options = _options(tmp_path, records, bert_config=BertConfig.from_dict(config), seed=7,
                       train_shuffle=True, output_dir=str(tmp_path / run), num_train_steps=4)
    loop.run_pretraining(options, _one_device())
    reader = tf.train.load_checkpoint(str(tmp_path / run / "model.ckpt-4"))
    finals.append({n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()})
  assert finals[0].keys() == finals[1].keys()
  for name in finals[0]:
    np.testing.assert_array_equal(finals[0][name], finals[1][name], err_msg=name)


def _cli(args):
  return subprocess.Popen([sys.executable, os.path.join(helpers.REPO, "run_pretraining.py")] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _config_file(tmp_path, config=None):
  return helpers.write_config(str(tmp_path / "bert_config.json"), config or _CONFIG)


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(8, seed=40))
  out = tmp_path / "out"
  args = ["--bert_config_file=" + _config_file(tmp_path), "--input_file=" + records,
          "--output_dir=" + str(out), "--do_train", "--train_batch_size=4",
          "--max_seq_length=24", "--max_predictions_per_seq=4", "--num_train_steps=400",
          "--num_warmup_steps=10", "--save_checkpoints_steps=20", "--iterations_per_loop=10",
          "--learning_rate=1e-3"]
  process = _cli(args)
  deadline = time.time() + 120
  while not (out / "model.ckpt-20.index").exists():
    assert process.poll() is None and time.time() < deadline, process.communicate()[1][-2000:]
    time.sleep(0.05)
  os.kill(process.pid, signal.SIGKILL)
  process.wait()
  # Whatever was left, every checkpoint under a final name is complete and readable.
  for name in os.listdir(str(out)):
    if name.endswith(".index"):
      prefix = str(out / name[:-len(".index")])
      assert len(checkpoints.CheckpointReader(prefix).shapes) > 0
  killed_at = int(tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out))).get_tensor(
      "global_step"))
  assert 20 <= killed_at < 400
  process = _cli(args)
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 0, stderr[-2000:]
  assert "Resuming from" in stderr
  latest = tf.train.latest_checkpoint(str(out))
  assert latest.endswith("model.ckpt-400")
  assert tf.train.load_checkpoint(latest).get_tensor("global_step") == 400
  assert len(tf.train.get_checkpoint_state(str(out)).all_model_checkpoint_paths) <= 5


def test_bad_flags_fail_before_any_step(tmp_path):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(1))
  cases = [
      (dict(do_train=False, do_eval=False), "At least one of --do_train or --do_eval"),
      (dict(num_train_steps=0), "--num_train_steps=0 must be positive"),
      (dict(train_batch_size=-4), "--train_batch_size=-4 must be positive"),
      (dict(max_seq_length=20), "feature input_ids has length 24 but --max_seq_length "
                                "expects 20"),
      (dict(max_predictions_per_seq=5), "masked_lm_positions has length 4 but "
                                        "--max_predictions_per_seq expects 5"),
  ]
  for change, message in cases:
    with pytest.raises(ValueError, match=message):
      loop.run_pretraining(_options(tmp_path, records, **change), _one_device())
  with pytest.raises(ValueError, match="--train_batch_size=4 is not divisible by the 3 replicas"):
    _options(tmp_path, records).validate(num_replicas=3)
  assert not (tmp_path / "out").exists() or not os.listdir(str(tmp_path / "out"))


def test_init_checkpoint_of_another_shape(tmp_path):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(1))
  other = dict(_CONFIG, hidden_size=16, intermediate_size=32)
  init = str(tmp_path / "other.ckpt")
  original_model.run_original_pretraining_graph(
      other, helpers.make_features(other, batch_size=1, seq_length=8, max_predictions=2),
      save_checkpoint=init)
  with pytest.raises(ValueError, match="has shape .* but the model's has shape"):
    loop.run_pretraining(_options(tmp_path, records, init_checkpoint=init), _one_device())
  assert not list((tmp_path / "out").glob("model.ckpt-*"))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(2))
  options = _options(tmp_path, records, learning_rate=1e38, num_warmup_steps=0,
                     iterations_per_loop=1, save_checkpoints_steps=100, num_train_steps=50)
  with pytest.raises(DivergedError, match=r"The loss became (nan|inf) at step \d+; training "
                                          r"stopped. The last good checkpoint is .*model.ckpt-0"):
    loop.run_pretraining(options, _one_device())
  reader = tf.train.load_checkpoint(str(tmp_path / "out" / "model.ckpt-0"))
  assert np.all(np.isfinite(reader.get_tensor("bert/embeddings/word_embeddings")))
  assert tf.train.latest_checkpoint(str(tmp_path / "out")).endswith("model.ckpt-0")


@pytest.mark.slow
def test_command_line_errors_are_one_line(tmp_path):
  process = _cli(["--bert_config_file=" + _config_file(tmp_path),
                  "--input_file=" + str(tmp_path / "none*.tfrecord"),
                  "--output_dir=" + str(tmp_path / "out"), "--do_train"])
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 1
  assert "run_pretraining.py: error: --input_file: no file matches" in stderr
  assert "Traceback" not in stderr


def test_strategy_from_flags():
  from bert_mlm.training import distribute  # pylint: disable=g-import-not-at-top
  strategy = distribute.get_strategy()
  assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
  assert strategy.num_replicas_in_sync == 1
  with pytest.raises(ValueError, match=r"A TPU \(--use_tpu or --distribution_strategy=tpu\) "
                                       r"needs --tpu_name"):
    distribute.get_strategy(use_tpu=True)
  with pytest.raises(ValueError, match="--use_tpu conflicts with --distribution_strategy=mirrored"):
    distribute.get_strategy("mirrored", use_tpu=True)
  with pytest.raises(ValueError, match="--distribution_strategy=nccl is not one of"):
    distribute.get_strategy("nccl")
  assert isinstance(distribute.get_strategy("mirrored"), tf.distribute.MirroredStrategy)
  assert distribute.is_chief(strategy)


@pytest.mark.slow
def test_xla_gives_the_same_losses(tmp_path):
  """With dropout: under XLA the masks are drawn outside the compiled pass, the same masks."""
  config = dict(_CONFIG, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(4, seed=50))
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(config, _batches(1)[0], save_checkpoint=init)
  histories = []
  for use_xla in (False, True):
    options = _options(tmp_path, records, bert_config=BertConfig.from_dict(config),
                       init_checkpoint=init, use_xla=use_xla, num_train_steps=4, seed=3,
                       output_dir=str(tmp_path / ("xla" if use_xla else "plain")))
    histories.append(helpers.history_table(loop.run_pretraining(options, _one_device())[0]))
  np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_lamb_trains(tmp_path):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(1, seed=60))
  options = _options(tmp_path, records, optimizer="lamb", learning_rate=1e-2, num_train_steps=30,
                     num_warmup_steps=0, iterations_per_loop=10, save_checkpoints_steps=30)
  history, _ = loop.run_pretraining(options, _one_device())
  history = helpers.history_table(history)
  assert history[-1][0] < 0.5 * history[0][0]  # it fits the single repeated batch
  reader = tf.train.load_checkpoint(str(tmp_path / "out" / "model.ckpt-30"))
  assert "bert/pooler/dense/kernel/adam_m" in reader.get_variable_to_shape_map()
  with pytest.raises(ValueError, match="--optimizer=sgd is not one of adamw, lamb"):
    loop.run_pretraining(_options(tmp_path, records, optimizer="sgd"), _one_device())


@pytest.mark.slow
def test_gradient_accumulation_equals_a_larger_batch(tmp_path):
  batches = _batches(8, seed=70)
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), batches)
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, batches[0], save_checkpoint=init)
  runs = {}
  for name, batch_size, accumulation in (("big", 4 * _BATCH, 1), ("accumulated", _BATCH, 4)):
    options = _options(tmp_path, records, init_checkpoint=init, train_batch_size=batch_size,
                       gradient_accumulation_steps=accumulation, num_train_steps=2,
                       save_checkpoints_steps=2, output_dir=str(tmp_path / name))
    history, _ = loop.run_pretraining(options, _one_device())
    runs[name] = (helpers.history_table(history),
                  helpers.read_checkpoint(str(tmp_path / name / "model.ckpt-2")))
  np.testing.assert_allclose(runs["accumulated"][0], runs["big"][0], rtol=1e-5, atol=1e-7)
  big, accumulated = runs["big"][1], runs["accumulated"][1]
  assert accumulated["global_step"] == big["global_step"] == 2
  helpers.assert_states_close(accumulated, big)
  with pytest.raises(ValueError, match="--gradient_accumulation_steps=0 must be positive"):
    loop.run_pretraining(_options(tmp_path, records, gradient_accumulation_steps=0),
                             _one_device())


@pytest.mark.slow
def test_multi_worker_two_local_processes(tmp_path):
  """Two workers (one replica each) train and evaluate as one device at the same global batch:
  the chief's per-step losses (its TensorBoard scalars), final weights and slots, and eval."""
  import json  # pylint: disable=g-import-not-at-top
  import socket  # pylint: disable=g-import-not-at-top
  batches = _batches(6, seed=80)
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), batches)
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, batches[0], save_checkpoint=init)
  ports = []
  for _ in range(2):
    with socket.socket() as s:
      s.bind(("127.0.0.1", 0))
      ports.append(s.getsockname()[1])
  cluster = {"worker": ["127.0.0.1:%d" % p for p in ports]}
  out = tmp_path / "out"
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                  "task": {"type": "worker", "index": index}}))
    processes.append(subprocess.Popen(
        [sys.executable, os.path.join(helpers.REPO, "run_pretraining.py"),
         "--bert_config_file=" + _config_file(tmp_path), "--input_file=" + records,
         "--output_dir=" + str(out), "--init_checkpoint=" + init, "--train_shuffle=false",
         "--do_train", "--do_eval", "--train_batch_size=4", "--eval_batch_size=4",
         "--max_eval_steps=2", "--max_seq_length=24", "--max_predictions_per_seq=4",
         "--num_train_steps=6", "--num_warmup_steps=2", "--save_checkpoints_steps=3",
         "--iterations_per_loop=3", "--learning_rate=1e-2",
         "--distribution_strategy=multi_worker_mirrored"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  for process in processes:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert "CollectiveAllReduceStrategy with 2 replica(s)" in stderr  # MultiWorkerMirrored
  assert checkpoints.latest_checkpoint(str(out)).endswith("model.ckpt-6")
  multi = helpers.read_checkpoint(str(out / "model.ckpt-6"))
  assert len(multi) == 3 * 46 + 1 and multi["global_step"] == 6

  options = _options(tmp_path, records, init_checkpoint=init, output_dir=str(tmp_path / "one"),
                     do_eval=True, max_eval_steps=2, iterations_per_loop=3)
  history, one_result = loop.run_pretraining(options, _one_device())
  scalars = helpers.read_scalars(str(out))
  multi_history = {name: [value for _, value in scalars[name]] for name in helpers.STEP_COLUMNS}
  assert [step for step, _ in scalars["total_loss"]] == list(range(1, 7))
  np.testing.assert_allclose(helpers.history_table(multi_history), helpers.history_table(history),
                             rtol=1e-5, atol=1e-7)
  helpers.assert_states_close(multi, helpers.read_checkpoint(str(tmp_path / "one" /
                                                                 "model.ckpt-6")))
  with open(str(out / "eval_results.txt")) as f:
    multi_result = dict(line.split(" = ") for line in f.read().splitlines())
  assert multi_result.keys() == one_result.keys()
  for name, value in one_result.items():
    np.testing.assert_allclose(float(multi_result[name]), value, rtol=1e-5, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("mixed_precision, tolerance", [("bf16", 0.05), ("fp16", 0.01)])
def test_mixed_precision_close_to_float32(tmp_path, mixed_precision, tolerance):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(4, seed=90))
  init = str(tmp_path / "init.ckpt")
  original_model.run_original_pretraining_graph(_CONFIG, _batches(1)[0], save_checkpoint=init)
  histories = {}
  for precision in ("", mixed_precision):
    options = _options(tmp_path, records, init_checkpoint=init, mixed_precision=precision,
                       num_train_steps=4, learning_rate=1e-3,
                       output_dir=str(tmp_path / (precision or "fp32")))
    histories[precision] = helpers.history_table(loop.run_pretraining(options, _one_device())[0])
  np.testing.assert_allclose(histories[mixed_precision][:, :3], histories[""][:, :3],
                             rtol=tolerance)
  # Variables, slots and checkpoints stay float32.
  reader = tf.train.load_checkpoint(str(tmp_path / mixed_precision / "model.ckpt-4"))
  dtypes = reader.get_variable_to_dtype_map()
  assert dtypes["bert/embeddings/word_embeddings"] == tf.float32
  assert dtypes["bert/embeddings/word_embeddings/adam_m"] == tf.float32


def test_fp16_overflow_skips_the_step(tmp_path):
  records = helpers.write_records(str(tmp_path / "train.tfrecord"), _batches(2, seed=95))
  options = _options(tmp_path, records, mixed_precision="fp16", num_train_steps=3,
                     num_warmup_steps=0, iterations_per_loop=1, save_checkpoints_steps=100)
  options.validate(1)
  run = loop.Pretraining(options, _one_device())
  run.loss_scale.scale.assign(2.0 ** 60)  # every gradient overflows in fp16
  before = run.variables["bert/pooler/dense/kernel"].numpy()
  dataset = input_pipeline.make_dataset([records], _SEQ, _PRED, _BATCH, is_training=True,
                                        shuffle=False)
  iterator = iter(run.strategy.experimental_distribute_dataset(dataset))
  records_out = helpers.history_table(run.train_step.run(iterator, 1))
  assert np.all(np.isfinite(records_out[:, :3]))  # the loss itself is fine
  assert int(run.global_step.numpy()) == 0  # the step was skipped
  assert float(run.loss_scale.scale.numpy()) == 2.0 ** 59
  np.testing.assert_array_equal(run.variables["bert/pooler/dense/kernel"].numpy(), before)
  run.loss_scale.scale.assign(2.0 ** 10)
  run.train_step.run(iterator, 1)
  assert int(run.global_step.numpy()) == 1
  assert not np.array_equal(run.variables["bert/pooler/dense/kernel"].numpy(), before)
