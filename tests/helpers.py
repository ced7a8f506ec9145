"""What several test modules share: tiny configs, feature batches, record writers, comparisons.

Test modules import this, never each other.
"""

import json
import os

import numpy as np

from bert_mlm import schema
from bert_mlm.storage import tfrecord

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DATA = os.path.join(REPO, "sample_data")
SCRIPTS = os.path.join(REPO, "tests", "scripts")

# Wider initializer_range than BERT's 0.02, so that differences would show.
TINY_CONFIG = dict(vocab_size=211, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                   intermediate_size=96, hidden_act="gelu", hidden_dropout_prob=0.1,
                   attention_probs_dropout_prob=0.1, max_position_embeddings=40,
                   type_vocab_size=2, initializer_range=0.2)
# For training: no dropout, so that runs compare step for step.
TRAIN_CONFIG = dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0, max_position_embeddings=24,
                    type_vocab_size=2, initializer_range=0.2)


# Opens a child script that must run without this package (what users load: SavedModels,
# converted directories): bert_mlm is blocked even through the editable install's import hook.
NO_BERT_MLM = r'''
import sys
sys.modules["bert_mlm"] = None
try:
  import bert_mlm
except ImportError:
  pass
else:
  raise SystemExit("bert_mlm is importable")
'''


def pretraining_options(files, output_dir, /, config=TRAIN_CONFIG, seq_length=24,
                        max_predictions=4, batch_size=4, **values):
  """run_pretraining's options for a small run on the record `files`, unshuffled; `values` sets
  any other field or replaces one of these."""
  # pylint: disable=g-import-not-at-top
  from bert_mlm.config import BertConfig
  from bert_mlm.training import loop  # TensorFlow: imported by the tests that train only
  options = dict(bert_config=BertConfig.from_dict(config), input_files=list(files),
                 output_dir=str(output_dir), max_seq_length=seq_length,
                 max_predictions_per_seq=max_predictions, do_train=True,
                 train_batch_size=batch_size, eval_batch_size=batch_size, train_shuffle=False)
  options.update(values)
  return loop.PretrainingOptions(**options)


def pretraining_flags(config_file, files, output_dir, seq_length=24, max_predictions=4,
                      batch_size=4, **values):
  """run_pretraining.py's flags for a small training run on the record `files`; `values` adds
  each as --name=value."""
  flags = ["--bert_config_file=" + config_file, "--input_file=" + ",".join(files),
           "--output_dir=" + str(output_dir), "--do_train", "--train_batch_size=%d" % batch_size,
           "--max_seq_length=%d" % seq_length, "--max_predictions_per_seq=%d" % max_predictions]
  return flags + ["--%s=%s" % (name, value) for name, value in values.items()]


def make_features(config, batch_size=3, seq_length=24, max_predictions=6, seed=0):
  """A pretraining batch (numpy, int32 / float32) with padding, segment B and padded
  predictions; row b is 5 * b tokens shorter and has b fewer predictions than row 0."""
  rng = np.random.RandomState(seed)
  input_ids = rng.randint(0, config["vocab_size"], (batch_size, seq_length)).astype(np.int32)
  input_mask = np.ones((batch_size, seq_length), np.int32)
  segment_ids = np.zeros((batch_size, seq_length), np.int32)
  positions = np.zeros((batch_size, max_predictions), np.int32)
  label_ids = np.zeros((batch_size, max_predictions), np.int32)
  weights = np.zeros((batch_size, max_predictions), np.float32)
  for b in range(batch_size):
    length = seq_length - 5 * b  # later rows padded
    input_mask[b, length:] = 0
    input_ids[b, length:] = 0
    segment_ids[b, length // 2:length] = 1
    count = max_predictions - b
    positions[b, :count] = np.sort(rng.choice(np.arange(1, length - 1), count, replace=False))
    label_ids[b, :count] = rng.randint(0, config["vocab_size"], count)
    weights[b, :count] = 1.0
  return dict(input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids,
              masked_lm_positions=positions, masked_lm_ids=label_ids, masked_lm_weights=weights,
              next_sentence_labels=(np.arange(batch_size) % 2).reshape(-1, 1).astype(np.int32))


def write_records(path, batches):
  """Writes the rows of feature batches as pretraining TFRecords, in order; returns `path`."""
  kinds = [(n, tfrecord.FLOAT if schema.DTYPES[n] == schema.FLOAT32 else tfrecord.INT64)
           for n in schema.FEATURE_NAMES]
  example_schema = tfrecord.ExampleSchema(kinds)
  with open(path, "wb") as f:
    for batch in batches:
      for row in range(len(batch["input_ids"])):
        payloads = []
        for name, kind in kinds:
          values = np.asarray(batch[name][row]).reshape(-1).tolist()
          payloads.append(tfrecord.pack_floats(values) if kind == tfrecord.FLOAT
                          else tfrecord.pack_int64s(values))
        f.write(tfrecord.frame(example_schema.serialize(payloads)))
  return path


def write_config(path, config):
  with open(path, "w") as f:
    json.dump(config, f)
  return path


_SLOTS = ("adam_m", "adam_v")


def assert_states_close(ours, expected, rtol=1e-5):
  """{name: array} maps with the same names; each group (weights, adam_m, adam_v) to `rtol` of
  the group's largest magnitude.

  Per group rather than per variable: a few gradients are zero in exact arithmetic (attention key
  biases: softmax ignores a per-query constant), so both sides hold round-off there, which Adam's
  normalisation turns into ~1e-6 updates of either sign.
  """
  names = set(expected) - {"global_step"}
  assert set(ours) - {"global_step"} == names
  for slot in _SLOTS + (None,):
    group = [n for n in names if (n.endswith(slot) if slot else not n.endswith(_SLOTS))]
    if not group:
      continue
    scale = max(np.max(np.abs(expected[n])) for n in group)
    for name in group:
      error = np.max(np.abs(np.asarray(ours[name]) - expected[name])) / scale
      assert error <= rtol, "%s differs by %.3g of its group's scale %.3g" % (name, error, scale)


def read_checkpoint(prefix):
  """{name: array} of every tensor in a checkpoint."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


STEP_COLUMNS = ("total_loss", "masked_lm_loss", "next_sentence_loss", "learning_rate")


def history_table(history):
  """A training history {field: [steps]} as an array [steps, 4] in STEP_COLUMNS order."""
  return np.stack([np.asarray(history[name]) for name in STEP_COLUMNS], axis=1)


def read_scalars(directory):
  """{tag: [(step, value)]} of the scalar summaries written in `directory` (local or any
  tf.io.gfile URL), read with TensorBoard's own event reader as its scalars dashboard does."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.backend.event_processing import plugin_event_accumulator as reader  # pylint: disable=g-import-not-at-top
  accumulator = reader.EventAccumulator(directory)
  accumulator.Reload()
  return {tag: [(event.step, tf.make_ndarray(event.tensor_proto).item())
                for event in accumulator.Tensors(tag)]
          for tag in accumulator.PluginTagToContent("scalars")}


def check_png(path, min_width=400, min_height=300):
  """Opens the PNG at `path` (matplotlib's reader) and checks its size and that it is drawn on:
  returns the image, an [height, width, channels] float array."""
  from matplotlib import image  # pylint: disable=g-import-not-at-top
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
  pixels = image.imread(path)
  height, width = pixels.shape[:2]
  assert width >= min_width and height >= min_height, pixels.shape
  # Not blank: many pixels differ from the background (the corner), in several colours.
  differs = (np.abs(pixels[..., :3] - pixels[0, 0, :3]).sum(axis=-1) > 0.1).mean()
  assert differs > 0.02, differs
  assert len(np.unique(pixels[..., :3].reshape(-1, 3).round(2), axis=0)) > 10
  return pixels


def split_corpus(path, directory, parts):
  """Splits a corpus at document boundaries into `parts` files `part-<i>.txt`; returns their
  paths (documents dealt round-robin)."""
  with open(path, encoding="utf-8") as f:
    documents = f.read().split("\n\n")
  paths = []
  for part in range(parts):
    paths.append(os.path.join(directory, "part-%d.txt" % part))
    with open(paths[-1], "w", encoding="utf-8") as f:
      f.write("\n\n".join(documents[part::parts]) + "\n")
  return paths


def text_lines(*paths):
  """Every line (with its newline) of UTF-8 text files."""
  lines = []
  for path in paths:
    with open(path, "rb") as f:
      lines.extend(raw.decode("utf-8") for raw in f)
  return lines


def original_pack(tokens_a, tokens_b, seq_length, cls_id, sep_id):
  """run_classifier.convert_single_example's packing, with its _truncate_seq_pair."""
  tokens_a, tokens_b = list(tokens_a), list(tokens_b) if tokens_b is not None else None
  if tokens_b is not None:
    while len(tokens_a) + len(tokens_b) > seq_length - 3:
      if len(tokens_a) > len(tokens_b):
        tokens_a.pop()
      else:
        tokens_b.pop()
  else:
    tokens_a = tokens_a[:seq_length - 2]
  ids = [cls_id] + tokens_a + [sep_id]
  types = [0] * len(ids)
  if tokens_b is not None:
    ids += tokens_b + [sep_id]
    types += [1] * (len(tokens_b) + 1)
  mask = [1] * len(ids)
  padding = [0] * (seq_length - len(ids))
  return ids + padding, mask + padding, types + padding
