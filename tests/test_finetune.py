"""After pretraining: the exports fine-tuned as their users fine-tune them, by the real consumers.

Each route runs in a fresh interpreter that cannot import bert_mlm (-I: no PYTHONPATH, no user
site, not the script's directory; bert_mlm blocked even through the editable install's import
hook), as a user's program would:
  - TF Hub: tf-keras (TF_USE_LEGACY_KERAS=1) with tensorflow-hub's KerasLayer on the preprocessing
    and encoder SavedModels, the tutorials' two patterns;
  - Keras 3: the encoder SavedModel in keras.layers.TFSMLayer (as README's "After pretraining");
  - keras-hub: BertBackbone, BertTokenizer and BertTextClassifier.from_preset on
    convert_checkpoint.py's transformers directory.
transformers (the same directory, BertForSequenceClassification) runs here; so does the check of
keras-hub's GELU on all-MiniLM-L6-v2. README's "After pretraining" runs as written.
The task is cut from the sample corpus: which of two kinds of document (a weather diary, a market
day) a sentence comes from, held-out documents for the accuracy. The encoder is a random tiny
model (configs/sample_tiny.json): what is tested is that fine-tuning reaches and moves its weights,
not what pretraining taught it.
"""

import json
import os
import random
import subprocess
import sys

import keras
import numpy as np
import pytest

from bert_mlm import tokenization
from bert_mlm.config import BertConfig
from bert_mlm.interop import huggingface
from bert_mlm.interop import savedmodel
from bert_mlm.model.pretraining_model import BertPretrainingModel
from bert_mlm.storage import checkpoints
from tests import helpers

pytestmark = pytest.mark.slow  # each route imports TensorFlow afresh and trains: 20-60 s

_SEQ_LENGTH = 32
_ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")
# Words whose accents FullTokenizer strips when lower-casing (keras-hub's converted tokenizer
# keeps them unless strip_accents=True).
_ACCENTED = ["Café au lait at Noël.", "Chloé and Zoë sold jugs.", "RÉSUMÉ of the naïve year."]
_PAIRS = [("Roswitha gets up at dawn.", "Then she brushes the horse, and sings an old song."),
          ("It was market day in Dunmere.", "Cato sold 16 jugs in Dunmere for 64 coins. " * 4)]

# Opens every child script: nothing of this package can be imported there.
_NO_BERT_MLM = helpers.NO_BERT_MLM
# Then, for the routes' scripts: the task, the fixed inputs, and what the test reads back.
_CHILD_PRELUDE = r'''
import json
import numpy as np
work_dir = sys.argv[1]
with open(work_dir + "/task.json") as f:
  task = json.load(f)
fixed = dict(np.load(work_dir + "/fixed_inputs.npz"))
results, arrays = {}, {}

def accuracy(logits, labels):
  return float(np.mean(np.argmax(logits, -1) == np.asarray(labels)))

def moved(before, after):
  """How many weights changed, of how many."""
  return sum(int(np.any(a != b)) for a, b in zip(before, after)), len(before)

def save():
  with open(work_dir + "/results.json", "w") as f:
    json.dump(results, f)
  np.savez(work_dir + "/arrays.npz", **arrays)
'''


def _documents(path):
  with open(path, encoding="utf-8") as f:
    return [d.split("\n") for d in f.read().split("\n\n") if d.strip()]


def _task(seed=0):
  """Sentences of weather diaries (label 0) and market days (label 1), their first lines (which
  name the kind) left out; a fifth of the documents held out, sentences seen in training dropped
  from the held-out set. Balanced: 240 training and 120 held-out sentences."""
  kinds = {"The diary of ": 0, "It was market day": 1}
  documents = [(d, label) for d in _documents(os.path.join(helpers.SAMPLE_DATA, "corpus.txt"))
               for prefix, label in kinds.items() if d[0].startswith(prefix)]
  random.Random(seed).shuffle(documents)
  held_out = len(documents) // 5
  split = {"train": documents[held_out:], "test": documents[:held_out]}
  seen = {s for d, _ in split["train"] for s in d[1:]}
  task = {}
  for name, size in (("train", 240), ("test", 120)):
    by_label = {0: [], 1: []}
    for document, label in split[name]:
      by_label[label] += [s for s in document[1:] if name == "train" or s not in seen]
    rng = random.Random(seed + len(name))
    examples = [(s, label) for label in (0, 1) for s in rng.sample(by_label[label], size // 2)]
    rng.shuffle(examples)
    task[name + "_texts"] = [s for s, _ in examples]
    task[name + "_labels"] = [label for _, label in examples]
  return task


@pytest.fixture(scope="module")
def work(tmp_path_factory, sample_vocab):
  """A random tiny model, export_savedmodel.py's and convert_checkpoint.py's outputs of its
  checkpoint, the task, and fixed encoder inputs."""
  directory = tmp_path_factory.mktemp("finetune")
  config_file = os.path.join(helpers.REPO, "configs", "sample_tiny.json")
  config = BertConfig.from_json_file(config_file)
  keras.utils.set_random_seed(7)
  model = BertPretrainingModel(config)
  for name, variable in model.variables_by_name().items():  # non-zero biases, so they show
    if name.endswith("bias") or name.endswith("beta"):
      variable.assign(np.random.RandomState(len(name)).normal(0, 0.1, variable.shape))
  prefix = checkpoints.save_checkpoint(
      str(directory / "model.ckpt"),
      checkpoints.model_tensors(model.variables_by_name(), global_step=0))
  savedmodel.export_savedmodels(prefix, config_file, sample_vocab, True, str(directory / "export"),
                                default_seq_length=_SEQ_LENGTH)
  huggingface.convert(input_checkpoint=prefix, bert_config_file=config_file,
                     vocab_file=sample_vocab, do_lower_case=True,
                     output_hf_dir=str(directory / "hf"))
  tokenizer = tokenization.FullTokenizer(sample_vocab, do_lower_case=True)
  task = _task()
  with open(os.path.join(helpers.SAMPLE_DATA, "corpus.txt"), encoding="utf-8") as f:
    task["tokenizer_lines"] = [line for line in f.read().split("\n") if line] + _ACCENTED
  task["pairs"] = _PAIRS
  task["seq_length"] = _SEQ_LENGTH
  task["trainable_names"] = sorted(v.value.name for v in model.bert.trainable_weights)
  with open(directory / "task.json", "w") as f:
    json.dump(task, f)
  rng = np.random.RandomState(0)
  ids = rng.randint(0, config.vocab_size, [3, 20]).astype(np.int32)
  mask = np.ones([3, 20], np.int32)
  mask[1, 12:] = 0
  mask[2, 5:] = 0
  types = (np.arange(20)[None, :] >= 8).astype(np.int32).repeat(3, 0) * mask
  fixed = dict(zip(_ENCODER_INPUTS, (ids, mask, types)))
  np.savez(str(directory / "fixed_inputs.npz"), **fixed)
  want = model.bert(ids, mask, types, training=False)
  return {"dir": directory, "model": model, "tokenizer": tokenizer, "task": task,
          "fixed": fixed, "want": {k: want[k].numpy() for k in ("sequence_output",
                                                                "pooled_output")}}


def _run(work, name, script):
  """Runs a child script in a fresh interpreter without bert_mlm; returns its results."""
  directory = work["dir"]
  path = str(directory / (name + ".py"))
  with open(path, "w") as f:
    f.write(_NO_BERT_MLM + _CHILD_PRELUDE + script + "\nsave()\n")
  env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
  result = subprocess.run([sys.executable, "-I", path, str(directory)], capture_output=True,
                          text=True, cwd=str(directory), env=env)
  assert result.returncode == 0, result.stderr[-5000:]
  with open(directory / "results.json") as f:
    results = json.load(f)
  return results, dict(np.load(str(directory / "arrays.npz")))


def _assert_fine_tuned(results, min_accuracy=0.85):
  """Every encoder weight moved, the training loss fell, held-out accuracy well above chance."""
  changed, total = results["encoder_weights_moved"]
  assert changed == total == 39, results["encoder_weights_moved"]  # sample_tiny: 39 weights
  losses = results["losses"]
  assert losses[-1] < 0.6 * losses[0], losses
  assert results["accuracy"] >= min_accuracy, results
  assert results["accuracy_before"] < 0.7, results  # what fine-tuning added


def _assert_dropout(arrays):
  """training=True: dropout (two calls differ); training=False: none (two calls agree)."""
  assert np.max(np.abs(arrays["train_1"] - arrays["train_2"])) > 1e-2
  np.testing.assert_array_equal(arrays["infer_1"], arrays["infer_2"])


def _assert_keras_models_outputs(work, arrays):
  for name, want in work["want"].items():
    np.testing.assert_allclose(arrays[name], want, atol=1e-5, err_msg=name)


_TF_HUB = r'''
import os
os.environ["TF_USE_LEGACY_KERAS"] = "1"  # hub.KerasLayer is a tf-keras (Keras 2) layer
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # registers the preprocessing's ops
import tf_keras

export = work_dir + "/export"
tf_keras.utils.set_random_seed(1)

# The reusable SavedModel API.
loaded = hub.load(export + "/encoder")
results["trainable_names"] = sorted(v.name for v in loaded.trainable_variables)
results["num_variables"] = len(loaded.variables)
results["regularization_losses"] = len(loaded.regularization_losses)

# The tutorials' first pattern: text -> preprocessing -> encoder -> pooled_output -> Dense.
text = tf_keras.layers.Input(shape=(), dtype=tf.string)
encoder_inputs = hub.KerasLayer(export + "/preprocessing")(text)
encoder = hub.KerasLayer(export + "/encoder", trainable=True)
pooled = encoder(encoder_inputs)["pooled_output"]
classifier = tf_keras.Model(text, tf_keras.layers.Dense(2)(tf_keras.layers.Dropout(0.1)(pooled)))

inputs = {k: tf.constant(v) for k, v in fixed.items()}
infer = encoder(inputs, training=False)
arrays["sequence_output"] = infer["sequence_output"].numpy()
arrays["pooled_output"] = infer["pooled_output"].numpy()
for i in (1, 2):
  arrays["train_%d" % i] = encoder(inputs, training=True)["sequence_output"].numpy()
  arrays["infer_%d" % i] = encoder(inputs, training=False)["sequence_output"].numpy()

test_texts = tf.constant(task["test_texts"])
results["accuracy_before"] = accuracy(classifier.predict(test_texts, verbose=0),
                                      task["test_labels"])
before = [w.numpy() for w in encoder.trainable_weights]
classifier.compile(tf_keras.optimizers.Adam(1e-3),
                   tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = classifier.fit(tf.constant(task["train_texts"]), np.array(task["train_labels"]),
                         batch_size=16, epochs=4, verbose=0)
results["losses"] = history.history["loss"]
results["encoder_weights_moved"] = moved(before, [w.numpy() for w in encoder.trainable_weights])
results["accuracy"] = accuracy(classifier.predict(test_texts, verbose=0), task["test_labels"])

# The tutorials' second pattern: tokenize, then pack two segments at a chosen length.
preprocessor = hub.load(export + "/preprocessing")
tokenize = hub.KerasLayer(preprocessor.tokenize)
bert_pack_inputs = hub.KerasLayer(preprocessor.bert_pack_inputs,
                                  arguments=dict(seq_length=task["seq_length"] - 4))
segments = [tf_keras.layers.Input(shape=(), dtype=tf.string) for _ in range(2)]
packed = bert_pack_inputs([tokenize(segment) for segment in segments])
pair_model = tf_keras.Model(segments, packed)
a, b = (tf.constant([pair[i] for pair in task["pairs"]]) for i in (0, 1))
for k, v in pair_model([a, b]).items():
  arrays["pair_" + k] = v.numpy()
'''


def test_tf_hub_keras_layer_fine_tunes_the_encoder(work):
  results, arrays = _run(work, "tf_hub", _TF_HUB)
  assert results["trainable_names"] == work["task"]["trainable_names"]  # the pooler's too
  assert results["num_variables"] == len(work["model"].variables)  # heads, dropout seeds
  assert results["regularization_losses"] == 0
  _assert_keras_models_outputs(work, arrays)
  _assert_dropout(arrays)
  _assert_fine_tuned(results)
  tokenizer = work["tokenizer"]
  seq_length = _SEQ_LENGTH - 4
  packed = [helpers.original_pack(tokenizer.tokenize_to_ids(a), tokenizer.tokenize_to_ids(b),
                                  seq_length, tokenizer.vocab["[CLS]"], tokenizer.vocab["[SEP]"])
            for a, b in _PAIRS]
  for i, name in enumerate(_ENCODER_INPUTS):
    np.testing.assert_array_equal(arrays["pair_" + name], [p[i] for p in packed], err_msg=name)


_KERAS_3 = r'''
import keras
import tensorflow as tf
import tensorflow_text  # registers the preprocessing's ops

export = work_dir + "/export"
keras.utils.set_random_seed(1)


class EncoderLayer(keras.layers.TFSMLayer):
  """TFSMLayer, its weights named without ":0" (Keras 3's optimizers refuse it in slot names)."""

  def _add_existing_weight(self, weight):
    self._track_variable(keras.Variable(weight, trainable=weight.trainable,
                                        name=weight.name.split(":")[0].replace("/", "_")))


def classifier(layer_class):
  encoder = layer_class(export + "/encoder", call_endpoint="serve",
                        call_training_endpoint="call_training", trainable=True)
  inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}
  pooled = encoder(inputs)["pooled_output"]
  model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dropout(0.1)(pooled)))
  model.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  return encoder, model


preprocess = tf.saved_model.load(export + "/preprocessing")


def dataset(name, shuffle=False):
  data = tf.data.Dataset.from_tensor_slices((task[name + "_texts"], task[name + "_labels"]))
  if shuffle:
    data = data.shuffle(1000, seed=0)
  return data.batch(16).map(lambda texts, labels: (preprocess(texts), labels))


# TFSMLayer as it is: its weights' names end in ":0", which Adam's slot names can't take.
try:
  classifier(keras.layers.TFSMLayer)[1].fit(dataset("train"), epochs=1, verbose=0)
except ValueError as e:
  results["plain_tfsm_layer_error"] = str(e)

encoder, model = classifier(EncoderLayer)
results["trainable_names"] = sorted(w.name for w in encoder.trainable_weights)
inputs = {k: tf.constant(v) for k, v in fixed.items()}
infer = encoder(inputs)
arrays["sequence_output"] = infer["sequence_output"].numpy()
arrays["pooled_output"] = infer["pooled_output"].numpy()
for i in (1, 2):
  arrays["train_%d" % i] = encoder(inputs, training=True)["sequence_output"].numpy()
  arrays["infer_%d" % i] = encoder(inputs, training=False)["sequence_output"].numpy()
results["accuracy_before"] = accuracy(model.predict(dataset("test"), verbose=0),
                                      task["test_labels"])
before = [w.numpy() for w in encoder.trainable_weights]
history = model.fit(dataset("train", shuffle=True), epochs=4, verbose=0)
results["losses"] = history.history["loss"]
results["encoder_weights_moved"] = moved(before, [w.numpy() for w in encoder.trainable_weights])
results["accuracy"] = accuracy(model.predict(dataset("test"), verbose=0), task["test_labels"])
'''


def test_keras_3_tfsm_layer_fine_tunes_the_encoder(work):
  results, arrays = _run(work, "keras_3", _KERAS_3)
  assert "is not a valid scope name" in results.get("plain_tfsm_layer_error", ""), (
      "TFSMLayer now trains with Adam: simplify README's Keras 3 route")
  assert results["trainable_names"] == sorted(
      n.split(":")[0].replace("/", "_") for n in work["task"]["trainable_names"])
  _assert_keras_models_outputs(work, arrays)
  _assert_dropout(arrays)
  _assert_fine_tuned(results)


_KERAS_HUB = r'''
import keras
import keras_hub

hf_dir = work_dir + "/hf"
keras.utils.set_random_seed(1)

# The converter's tokenizer lower-cases but keeps accents; strip_accents=True is FullTokenizer's.
as_converted = keras_hub.models.BertTokenizer.from_preset(hf_dir)
tokenizer = keras_hub.models.BertTokenizer.from_preset(hf_dir, strip_accents=True)
results["cafe_as_converted"] = [as_converted.id_to_token(int(i))
                                for i in as_converted.tokenize("Café")]
results["tokenizer_ids"] = [[int(i) for i in ids]  # a list input gives lists back
                            for ids in tokenizer.tokenize(task["tokenizer_lines"])]

backbone = keras_hub.models.BertBackbone.from_preset(hf_dir)
outputs = backbone({"token_ids": fixed["input_word_ids"], "padding_mask": fixed["input_mask"],
                    "segment_ids": fixed["input_type_ids"]})
arrays["sequence_output"] = np.asarray(outputs["sequence_output"])
arrays["pooled_output"] = np.asarray(outputs["pooled_output"])

preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
    tokenizer, sequence_length=task["seq_length"])
classifier = keras_hub.models.BertTextClassifier.from_preset(
    hf_dir, num_classes=2, preprocessor=preprocessor)
classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
results["accuracy_before"] = accuracy(classifier.predict(task["test_texts"], verbose=0),
                                      task["test_labels"])
before = [w.numpy() for w in classifier.backbone.trainable_weights]
history = classifier.fit(task["train_texts"], np.array(task["train_labels"]), batch_size=16,
                         epochs=4, verbose=0)
results["losses"] = history.history["loss"]
results["encoder_weights_moved"] = moved(
    before, [w.numpy() for w in classifier.backbone.trainable_weights])
results["accuracy"] = accuracy(classifier.predict(task["test_texts"], verbose=0),
                               task["test_labels"])
'''


def test_keras_hub_loads_tokenizes_and_fine_tunes(work):
  results, arrays = _run(work, "keras_hub", _KERAS_HUB)
  tokenizer = work["tokenizer"]
  lines = work["task"]["tokenizer_lines"]
  assert len(lines) > 9000
  mismatches = [(line, ids) for line, ids in zip(lines, results["tokenizer_ids"])
                if ids != tokenizer.tokenize_to_ids(line)]
  assert not mismatches[:3]
  assert tokenizer.tokenize("Café") == ["cafe"] and results["cafe_as_converted"] == ["[UNK]"]
  # keras-hub's BertBackbone computes the tanh GELU, the original's "gelu": our outputs.
  _assert_keras_models_outputs(work, arrays)
  _assert_fine_tuned(results)


def test_transformers_fine_tunes_the_converted_directory(work):
  """README's transformers route: a sequence classifier on convert_checkpoint.py's directory
  (its classification head new, the encoder and pooler the checkpoint's)."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  hf_dir, task = str(work["dir"] / "hf"), work["task"]
  torch.manual_seed(0)
  tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
  model = transformers.AutoModelForSequenceClassification.from_pretrained(hf_dir, num_labels=2)
  encoder = [p for name, p in model.named_parameters() if name.startswith("bert.")]
  before = [p.detach().clone() for p in encoder]

  def batch(texts):
    return tokenizer(texts, padding=True, truncation=True, max_length=_SEQ_LENGTH,
                     return_tensors="pt")

  def accuracy():
    model.eval()
    with torch.no_grad():
      logits = model(**batch(task["test_texts"])).logits.numpy()
    return float(np.mean(np.argmax(logits, -1) == task["test_labels"]))

  accuracy_before = accuracy()
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
  losses = []
  for _ in range(4):
    model.train()
    epoch = []
    for start in range(0, len(task["train_texts"]), 16):
      loss = model(**batch(task["train_texts"][start:start + 16]),
                   labels=torch.tensor(task["train_labels"][start:start + 16])).loss
      loss.backward()
      optimizer.step()
      optimizer.zero_grad()
      epoch.append(loss.item())
    losses.append(float(np.mean(epoch)))
  _assert_fine_tuned({
      "encoder_weights_moved": (sum(int(not torch.equal(a, b)) for a, b in zip(before, encoder)),
                                len(encoder)),
      "losses": losses, "accuracy": accuracy(), "accuracy_before": accuracy_before})


def test_keras_hub_computes_the_tanh_gelu_whatever_the_config_says():
  """keras-hub's BertBackbone always computes the tanh GELU: on all-MiniLM-L6-v2 (config
  hidden_act "gelu", transformers' erf form) its sequence output is transformers' with gelu_new,
  not with the model's own activation (README: 2.5e-3 apart, 4.5e-4 of the largest value).
  In a fresh interpreter: importing keras-hub changes Keras' global state for later tests."""
  script = """
import json, os
import numpy as np
import keras_hub, torch, transformers
from reference import minilm_checkpoint
model_dir = minilm_checkpoint.minilm_model_dir()
with open(os.path.join(model_dir, "config.json")) as f:
  assert json.load(f)["hidden_act"] == "gelu"
tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
batch = tokenizer(%r, padding=True, return_tensors="pt")
mask = batch["attention_mask"].numpy().astype(bool)
backbone = keras_hub.models.BertBackbone.from_preset(model_dir)
theirs = np.asarray(backbone({"token_ids": batch["input_ids"].numpy(),
                              "padding_mask": batch["attention_mask"].numpy(),
                              "segment_ids": batch["token_type_ids"].numpy()})[
                                  "sequence_output"])[mask]
errors = {}
for hidden_act in ("gelu", "gelu_new"):
  model = transformers.BertModel.from_pretrained(model_dir, hidden_act=hidden_act).eval()
  with torch.no_grad():
    want = model(**batch).last_hidden_state.numpy()[mask]
  errors[hidden_act] = float(np.max(np.abs(theirs - want)) / np.max(np.abs(want)))
print(json.dumps(errors))
""" % (["Roswitha milks the goat at dawn.", _PAIRS[1][1], _ACCENTED[0]],)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=helpers.REPO, env=dict(os.environ, PYTHONPATH=helpers.REPO),
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  errors = json.loads(result.stdout.strip().splitlines()[-1])
  assert errors["gelu_new"] < 1e-5 < 1e-4 < errors["gelu"], errors


def _readme_blocks():
  """The code blocks of README's "After pretraining" section: (language, text) in order."""
  with open(os.path.join(helpers.REPO, "README.md"), encoding="utf-8") as f:
    readme = f.read()
  section = readme.split("## After pretraining")[1].split("\n## ")[0]
  parts = section.split("```")
  return [(part.split("\n", 1)[0].strip(), part.split("\n", 1)[1]) for part in parts[1::2]]


def test_readme_after_pretraining_runs(work):
  """Every command and program of README's "After pretraining", as written, on this module's
  checkpoint in place of the main job's; the programs in a fresh interpreter without bert_mlm."""
  blocks = _readme_blocks()
  assert [language for language, _ in blocks] == ["python", "", "python", "python", "",
                                                  "python", "python"]
  directory = work["dir"] / "readme"
  directory.mkdir()
  prefix = str(work["dir"] / "model.ckpt")

  def local(text):
    return text.replace("/tmp/bert_mlm_sample/pretraining", prefix).replace(
        "/tmp/bert_mlm_sample", str(directory))

  env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
  texts = blocks[0][1]
  for i, (language, text) in enumerate(blocks[1:]):
    if language == "python":
      path = str(directory / ("block_%d.py" % i))
      with open(path, "w") as f:
        f.write(_NO_BERT_MLM + texts + local(text))
      command = [sys.executable, "-I", path]
    else:
      command = ["bash", "-c", local(text)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=helpers.REPO,
                            env=dict(env, PYTHONPATH=helpers.REPO) if language != "python" else env)
    assert result.returncode == 0, (text, result.stderr[-3000:])
