"""Runs the original BERT model and pretraining heads (PyPI `bert-tensorflow==1.0.4`) in TF1 graph mode.

The original's `bert.modeling` and `bert.run_pretraining` are imported and called unmodified; only
the two TF1 APIs they need and TF 2.21 lacks are supplied by `reference.tf1_shim`.
`bert.run_pretraining` defines absl flags that clash with `bert.create_pretraining_data`'s
(`input_file`, `max_seq_length`, ...), so its flags are defined into a private `FlagValues`; its
model functions never read flags.
"""

import functools

import numpy as np

from reference import tf1_shim

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                 "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")

_ORIGINAL = {}


def _import_run_pretraining(tf1):
  """Imports `bert.run_pretraining` with its flag definitions kept out of the global FLAGS."""
  import sys  # pylint: disable=g-import-not-at-top
  if "bert.run_pretraining" in sys.modules:
    return sys.modules["bert.run_pretraining"]
  from absl import flags as absl_flags  # pylint: disable=g-import-not-at-top
  private = absl_flags.FlagValues()
  tf_flags = tf1.flags
  names = ("DEFINE_string", "DEFINE_integer", "DEFINE_bool", "DEFINE_boolean", "DEFINE_float")
  saved = {name: getattr(tf_flags, name) for name in names}
  try:
    for name, define in saved.items():
      setattr(tf_flags, name, functools.partial(define, flag_values=private))
    from bert import run_pretraining  # pylint: disable=g-import-not-at-top
  finally:
    for name, define in saved.items():
      setattr(tf_flags, name, define)
  return run_pretraining


def original_modules():
  """(tf.compat.v1, bert.modeling, bert.run_pretraining), with the TF1 shim installed."""
  tf1_shim.install()  # Cheap when installed; reinstalls if something undid it.
  if not _ORIGINAL:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from bert import modeling  # pylint: disable=g-import-not-at-top
    run_pretraining = _import_run_pretraining(tf.compat.v1)
    _ORIGINAL.update(tf1=tf.compat.v1, modeling=modeling, run_pretraining=run_pretraining)
  return _ORIGINAL["tf1"], _ORIGINAL["modeling"], _ORIGINAL["run_pretraining"]


def run_original_pretraining_graph(bert_config_dict, features, init_checkpoint=None,
                                   save_checkpoint=None, seed=0):
  """Builds and runs the original's pretraining forward pass, as its `model_fn` does in eval mode.

  Args:
    bert_config_dict: the contents of a `bert_config.json`.
    features: {name: numpy array} for the names in FEATURE_NAMES: int32 `input_ids`,
      `input_mask`, `segment_ids` [B, S]; int32 `masked_lm_positions`, `masked_lm_ids` and float32
      `masked_lm_weights` [B, P]; int32 `next_sentence_labels` [B, 1].
    init_checkpoint: optional TF1 checkpoint prefix; the variables it has (by name) are loaded
      with the original's `get_assignment_map_from_checkpoint` + `tf.train.init_from_checkpoint`,
      the others keep their random initialisation.
    save_checkpoint: optional path prefix; all global variables are saved there with a
      `tf.compat.v1.train.Saver` (no meta graph).
    seed: the graph-level random seed for the initialisation.

  Returns:
    {name: numpy array} with sequence_output, pooled_output, embedding_output, embedding_table,
    masked_lm_loss, masked_lm_example_loss, masked_lm_log_probs, next_sentence_loss,
    next_sentence_example_loss, next_sentence_log_probs, total_loss; `variables`: {variable name
    without ':0': numpy value} of every global variable; `initialized_variable_names`: sorted
    names loaded from `init_checkpoint` (empty without one).
  """
  tf1, modeling, run_pretraining = original_modules()
  missing = [name for name in FEATURE_NAMES if name not in features]
  if missing:
    raise ValueError("features lacks %s" % missing)

  graph = tf1.Graph()
  with graph.as_default():
    tf1.set_random_seed(seed)
    inputs = {}
    for name in FEATURE_NAMES:
      dtype = tf1.float32 if name == "masked_lm_weights" else tf1.int32
      inputs[name] = tf1.constant(np.asarray(features[name]), dtype=dtype, name=name)

    bert_config = modeling.BertConfig.from_dict(dict(bert_config_dict))
    model = modeling.BertModel(
        config=bert_config,
        is_training=False,
        input_ids=inputs["input_ids"],
        input_mask=inputs["input_mask"],
        token_type_ids=inputs["segment_ids"],
        use_one_hot_embeddings=False)

    (masked_lm_loss, masked_lm_example_loss,
     masked_lm_log_probs) = run_pretraining.get_masked_lm_output(
         bert_config, model.get_sequence_output(), model.get_embedding_table(),
         inputs["masked_lm_positions"], inputs["masked_lm_ids"], inputs["masked_lm_weights"])
    (next_sentence_loss, next_sentence_example_loss,
     next_sentence_log_probs) = run_pretraining.get_next_sentence_output(
         bert_config, model.get_pooled_output(), inputs["next_sentence_labels"])
    total_loss = masked_lm_loss + next_sentence_loss

    initialized_variable_names = {}
    if init_checkpoint:
      tvars = tf1.trainable_variables()
      assignment_map, initialized_variable_names = modeling.get_assignment_map_from_checkpoint(
          tvars, init_checkpoint)
      tf1.train.init_from_checkpoint(init_checkpoint, assignment_map)

    global_variables = tf1.global_variables()
    fetches = {
        "sequence_output": model.get_sequence_output(),
        "pooled_output": model.get_pooled_output(),
        "embedding_output": model.get_embedding_output(),
        "embedding_table": model.get_embedding_table(),
        "masked_lm_loss": masked_lm_loss,
        "masked_lm_example_loss": masked_lm_example_loss,
        "masked_lm_log_probs": masked_lm_log_probs,
        "next_sentence_loss": next_sentence_loss,
        "next_sentence_example_loss": next_sentence_example_loss,
        "next_sentence_log_probs": next_sentence_log_probs,
        "total_loss": total_loss,
        "variables": {v.op.name: v for v in global_variables},
    }
    saver = tf1.train.Saver() if save_checkpoint else None
    with tf1.Session(graph=graph) as sess:
      sess.run(tf1.global_variables_initializer())
      results = sess.run(fetches)
      if saver is not None:
        saver.save(sess, save_checkpoint, write_meta_graph=False)
  results["initialized_variable_names"] = sorted(
      name for name in initialized_variable_names if not name.endswith(":0"))
  return results


def list_checkpoint(path):
  """{variable name: shape as a list} of a checkpoint (prefix or directory)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {name: list(shape) for name, shape in tf.train.list_variables(path)}


def _placeholders(tf1, batch):
  """{feature name: placeholder} shaped like `batch` (int32; float32 masked_lm_weights)."""
  return {name: tf1.placeholder(tf1.float32 if name == "masked_lm_weights" else tf1.int32,
                                np.asarray(batch[name]).shape, name=name)
          for name in FEATURE_NAMES}


def run_original_training(bert_config_dict, batches, init_checkpoint, init_lr, num_train_steps,
                          num_warmup_steps):
  """Trains the original's graph with its own `create_optimizer`, one batch per step.

  The original increments `global_step` in the same `session.run` that reads it for the learning
  rate, which races (google-research/bert #1050). To pin step i to lr(i), the optimizer's
  apply op (built by the original's `create_optimizer` / `AdamWeightDecayOptimizer`) is run on
  its own and `global_step` is incremented after it.

  Returns:
    {"steps": [{"learning_rate", "total_loss", "masked_lm_loss", "next_sentence_loss"}] per step,
     "variables": {name: value} of every global variable after the last step (adam slots too)}.
  """
  tf1, modeling, run_pretraining = original_modules()
  from bert import optimization  # pylint: disable=g-import-not-at-top
  captured = {}
  original_apply = optimization.AdamWeightDecayOptimizer.apply_gradients

  def capturing_apply(self, grads_and_vars, global_step=None, name=None):
    captured["learning_rate"] = self.learning_rate
    captured["apply"] = original_apply(self, grads_and_vars, global_step, name)
    return captured["apply"]

  graph = tf1.Graph()
  with graph.as_default():
    inputs = _placeholders(tf1, batches[0])
    bert_config = modeling.BertConfig.from_dict(dict(bert_config_dict))
    model = modeling.BertModel(config=bert_config, is_training=False,
                               input_ids=inputs["input_ids"], input_mask=inputs["input_mask"],
                               token_type_ids=inputs["segment_ids"], use_one_hot_embeddings=False)
    masked_lm_loss, _, _ = run_pretraining.get_masked_lm_output(
        bert_config, model.get_sequence_output(), model.get_embedding_table(),
        inputs["masked_lm_positions"], inputs["masked_lm_ids"], inputs["masked_lm_weights"])
    next_sentence_loss, _, _ = run_pretraining.get_next_sentence_output(
        bert_config, model.get_pooled_output(), inputs["next_sentence_labels"])
    total_loss = masked_lm_loss + next_sentence_loss
    tvars = tf1.trainable_variables()
    assignment_map, _ = modeling.get_assignment_map_from_checkpoint(tvars, init_checkpoint)
    tf1.train.init_from_checkpoint(init_checkpoint, assignment_map)
    optimization.AdamWeightDecayOptimizer.apply_gradients = capturing_apply
    try:
      optimization.create_optimizer(total_loss, init_lr, num_train_steps, num_warmup_steps,
                                    use_tpu=False)
    finally:
      optimization.AdamWeightDecayOptimizer.apply_gradients = original_apply
    global_step = tf1.train.get_or_create_global_step()
    increment = global_step.assign_add(1)
    steps = []
    with tf1.Session(graph=graph) as sess:
      sess.run(tf1.global_variables_initializer())
      for batch in batches:
        feed = {inputs[name]: np.asarray(batch[name]) for name in FEATURE_NAMES}
        values = sess.run({"apply": captured["apply"], "learning_rate": captured["learning_rate"],
                           "total_loss": total_loss, "masked_lm_loss": masked_lm_loss,
                           "next_sentence_loss": next_sentence_loss}, feed)
        del values["apply"]
        steps.append(values)
        sess.run(increment)
      variables = sess.run({v.op.name: v for v in tf1.global_variables()})
  return {"steps": steps, "variables": variables}


def run_original_eval(bert_config_dict, batches, init_checkpoint):
  """The original's evaluation: its `model_fn` in EVAL mode, its `metric_fn`, over `batches`.

  As the Estimator evaluates: the metric update ops run once per batch, then the values are
  read; `loss` is the mean of the batch losses (tf.metrics.mean of the spec's loss).
  Returns {metric name: float}.
  """
  tf1, modeling, run_pretraining = original_modules()
  graph = tf1.Graph()
  with graph.as_default():
    inputs = _placeholders(tf1, batches[0])
    model_fn = run_pretraining.model_fn_builder(
        bert_config=modeling.BertConfig.from_dict(dict(bert_config_dict)),
        init_checkpoint=init_checkpoint, learning_rate=1e-4, num_train_steps=1,
        num_warmup_steps=0, use_tpu=False, use_one_hot_embeddings=False)
    spec = model_fn(inputs, None, tf1.estimator.ModeKeys.EVAL, {})
    metric_fn, tensors = spec["eval_metrics"]
    metrics = dict(metric_fn(*tensors))
    metrics["loss"] = tf1.metrics.mean(spec["loss"])
    with tf1.Session(graph=graph) as sess:
      sess.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
      for batch in batches:
        sess.run({k: update for k, (_, update) in metrics.items()},
                 {inputs[name]: np.asarray(batch[name]) for name in FEATURE_NAMES})
      return {k: float(v) for k, v in sess.run({k: value for k, (value, _) in
                                                 metrics.items()}).items()}
