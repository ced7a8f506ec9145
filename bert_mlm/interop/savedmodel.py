"""SavedModels of a checkpoint in the TF Hub BERT convention: an encoder and its preprocessing.

  DIR/encoder         loaded(inputs, training=False) -> {pooled_output [B, H],
                                         sequence_output [B, S, H],
                                         encoder_outputs: L x [B, S, H], default [B, H]}
                      inputs: {input_word_ids, input_mask, input_type_ids}, int32 [B, S]
                      loaded.mlm(inputs + {masked_lm_positions int32 [B, P]}, training=False)
                        -> the same outputs + mlm_logits [B, P, V]
                      loaded.variables, .trainable_variables (the encoder's weights, pooler
                        included), .regularization_losses (empty): TF Hub's reusable
                        SavedModel API, so hub.KerasLayer(DIR/encoder, trainable=True)
                        fine-tunes it
                      loaded.serve(inputs), loaded.call_training(inputs): the two calls as
                        functions of the inputs alone (keras.layers.TFSMLayer's endpoints)
                      signatures "serving_default" and "mlm": inference, as flat dicts of
                        tensors (encoder_outputs as encoder_outputs_0 .. encoder_outputs_<L-1>)
  DIR/preprocessing   loaded.tokenize(strings [B]) -> int32 [B, (words), (pieces)]
                      loaded.bert_pack_inputs([tokenized] or [a, b], seq_length=128)
                        -> {input_word_ids, input_mask, input_type_ids} int32 [B, seq_length]
                      loaded(strings [B]) -> the same, one segment, seq_length 128
                      signature "serving_default": strings -> the same

Both load with `tf.saved_model.load` where only TensorFlow and tensorflow-text are installed
(`import tensorflow_text` registers the tokenizer's ops). The encoder computes `modeling.BertModel`
with the checkpoint's weights: training=False is inference (no dropout), training=True applies the
config's dropout (hidden_dropout_prob, attention_probs_dropout_prob) with a fresh mask on each
call. The mlm logits are the masked LM head's (transform, tied word embeddings, output bias)
before the log-softmax. The tokenizer is `text_preprocessing.TextTokenizer`: FullTokenizer's ids
(see there for what still differs), and packing is the original's [CLS] A [SEP] B [SEP].

Each SavedModel is written under a temporary name and renamed into place when complete (on a
remote file system, where directories can't be renamed, its files are renamed one by one with
saved_model.pb last, so a reader never loads a partial model).
"""

import os

from absl import logging
import tensorflow as tf

from bert_mlm.storage import atomic
from bert_mlm.storage import checkpoints
from bert_mlm.interop import text_preprocessing
from bert_mlm import tokenization
from bert_mlm.config import BertConfig
from bert_mlm.config import check_vocab_size
from bert_mlm.errors import UsageError
from bert_mlm.model.pretraining_model import BertPretrainingModel
from bert_mlm.model.heads import gather_indexes

ENCODER_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")
DEFAULT_SEQ_LENGTH = 128


def _int32_specs(names, length=None):
  return {name: tf.TensorSpec([None, length], tf.int32, name=name) for name in names}


# The functions below have no Python control flow on tensors: tracing without autograph keeps
# it from converting tensorflow-text's and Keras' code, seconds per trace.


class EncoderModule(tf.Module):
  """The encoder SavedModel's root object (see the module docstring).

  TF Hub's reusable SavedModel API: `__call__(inputs, training)` traced for both values of
  `training` (dropout at the config's rates when True), and the attributes `variables`,
  `trainable_variables` and `regularization_losses` (plain lists, saved with the model; tf.Module's
  properties of those names are computed and would not be). `serve` and `call_training` are the
  two calls as functions of `inputs` alone, the endpoints `keras.layers.TFSMLayer` takes.

  It tracks the model's variables but not the Keras model itself: saving a tf.Module that holds
  the model makes Keras 3 trace its own serving signature with unknown shapes, which
  SelfAttention rejects. The functions close over the model instead.
  """

  # Shadow tf.Module's properties, so that the instance's lists below are saved.
  variables = trainable_variables = regularization_losses = None

  def __init__(self, model):
    super().__init__(name="bert_encoder")
    config = model.config
    bert = model.bert
    head = model.cls.predictions
    # Every variable the functions read or update: the encoder, the heads, and the dropout
    # layers' seed states (non-trainable; updated by each training=True call, so that two calls
    # draw different masks). Trainable: the encoder's weights (the pooler's too), which a
    # fine-tuning task trains; the heads are for `mlm` only.
    self.variables = [v.value for v in model.variables]
    self.trainable_variables = [v.value for v in bert.trainable_weights]
    self.regularization_losses = []  # the original adds no regularization loss
    self.vocab_size = tf.Variable(config.vocab_size, trainable=False, name="vocab_size")
    self.hidden_size = tf.Variable(config.hidden_size, trainable=False, name="hidden_size")
    self.num_hidden_layers = tf.Variable(config.num_hidden_layers, trainable=False,
                                         name="num_hidden_layers")

    def encode(inputs, training):
      outputs = bert(inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"],
                     training=training)
      return {"pooled_output": outputs["pooled_output"],
              "sequence_output": outputs["sequence_output"],
              "encoder_outputs": list(outputs["all_encoder_layers"]),
              "default": outputs["pooled_output"]}

    def mlm_logits(sequence_output, positions):
      """The masked LM head's logits at `positions` [B, P] -> [B, P, V]."""
      rows = head.transform(gather_indexes(sequence_output, positions))
      logits = tf.nn.bias_add(tf.matmul(rows, bert.embedding_table, transpose_b=True),
                              head.output_bias)
      shape = tf.shape(positions)
      return tf.reshape(logits, [shape[0], shape[1], config.vocab_size])

    specs = _int32_specs(ENCODER_INPUTS)
    mlm_specs = dict(specs, masked_lm_positions=tf.TensorSpec([None, None], tf.int32,
                                                              name="masked_lm_positions"))
    # The encoder is traced once per value of training; the other functions call those traces.
    encoded = tf.function(encode, autograph=False)

    def call(inputs, training=False):
      return encoded(inputs, bool(training))

    def mlm(inputs, training=False):
      outputs = encoded({name: inputs[name] for name in ENCODER_INPUTS}, bool(training))
      outputs["mlm_logits"] = mlm_logits(outputs["sequence_output"],
                                         inputs["masked_lm_positions"])
      return outputs

    def flat(outputs):
      """Signature outputs: a flat dict of tensors, one per encoder layer."""
      flat_outputs = {k: v for k, v in outputs.items() if k != "encoder_outputs"}
      for i, layer in enumerate(outputs["encoder_outputs"]):
        flat_outputs["encoder_outputs_%d" % i] = layer
      return flat_outputs

    self.__call__ = tf.function(call, autograph=False)
    self.mlm = tf.function(mlm, autograph=False)
    for training in (False, True):
      self.__call__.get_concrete_function(specs, training=training)
      self.mlm.get_concrete_function(mlm_specs, training=training)
    self.serve = tf.function(lambda inputs: call(inputs, training=False),
                             input_signature=[specs], autograph=False)
    self.call_training = tf.function(lambda inputs: call(inputs, training=True),
                                     input_signature=[specs], autograph=False)
    self._signatures = {
        "serving_default": tf.function(lambda **inputs: flat(call(inputs)),
                                       autograph=False).get_concrete_function(**specs),
        "mlm": tf.function(lambda **inputs: flat(mlm(inputs)),
                           autograph=False).get_concrete_function(**mlm_specs),
    }

  def signatures_to_save(self):
    return self._signatures


class PreprocessingModule(tf.Module):
  """The preprocessing SavedModel's root object (see the module docstring)."""

  def __init__(self, vocab, do_lower_case, default_seq_length=DEFAULT_SEQ_LENGTH):
    super().__init__(name="bert_preprocessing")
    tokenization.require_tokens(vocab, (tokenization.CLS_TOKEN, tokenization.SEP_TOKEN,
                                        tokenization.UNK_TOKEN), "--vocab_file")
    tokenizer = text_preprocessing.TextTokenizer(vocab, do_lower_case)
    self.vocab_table = tokenizer.table  # the resource the functions use, tracked for saving
    self.vocab_size = tf.Variable(len(vocab), trainable=False, name="vocab_size")
    self.do_lower_case = tf.Variable(do_lower_case, trainable=False, name="do_lower_case")
    cls_id, sep_id = vocab[tokenization.CLS_TOKEN], vocab[tokenization.SEP_TOKEN]

    def pack(segments, seq_length=default_seq_length):
      return text_preprocessing.pack_inputs(list(segments), seq_length, cls_id, sep_id)

    strings = tf.TensorSpec([None], tf.string, name="strings")
    tokenized = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    self.tokenize = tf.function(tokenizer.tokenize, input_signature=[strings],
                                autograph=False)
    self.bert_pack_inputs = tf.function(pack, autograph=False)
    for num_segments in (1, 2):
      self.bert_pack_inputs.get_concrete_function([tokenized] * num_segments)
      self.bert_pack_inputs.get_concrete_function([tokenized] * num_segments,
                                                  tf.TensorSpec([], tf.int32, name="seq_length"))
    self.__call__ = tf.function(lambda texts: pack([tokenizer.tokenize(texts)]),
                                input_signature=[strings], autograph=False)
    self._signatures = {"serving_default": self.__call__.get_concrete_function()}

  def signatures_to_save(self):
    return self._signatures


def _save(module, path):
  """tf.saved_model.save under a temporary name, then into place (see the module docstring)."""
  with atomic.directory(path, last="saved_model.pb") as temporary:
    tf.saved_model.save(module, temporary, signatures=module.signatures_to_save())
    if tf.io.gfile.exists(path):
      tf.io.gfile.rmtree(path)


def load_model(bert_config_file, input_checkpoint):
  """BertPretrainingModel with every variable from the checkpoint (all required)."""
  config = BertConfig.from_json_file(bert_config_file)
  model = BertPretrainingModel(config)
  variables = model.variables_by_name()
  loaded = checkpoints.load_checkpoint(variables, input_checkpoint)
  missing = sorted(set(variables) - set(loaded))
  if missing:
    raise UsageError("--input_checkpoint=%s lacks %s%s: the SavedModels need the encoder and the "
                     "masked LM head." % (input_checkpoint, ", ".join(missing[:3]),
                                          " and %d more" % (len(missing) - 3)
                                          if len(missing) > 3 else ""))
  return model


def export_savedmodels(input_checkpoint, bert_config_file, vocab_file, do_lower_case, output_dir,
                       default_seq_length=DEFAULT_SEQ_LENGTH):
  """The whole job: writes output_dir/encoder and output_dir/preprocessing; returns their paths."""
  if default_seq_length < 3:
    raise UsageError("--seq_length=%d is too short for [CLS] A [SEP]." % default_seq_length)
  config = BertConfig.from_json_file(bert_config_file)
  check_vocab_size(config, vocab_file)
  if default_seq_length > config.max_position_embeddings:
    raise UsageError("--seq_length=%d exceeds the config's max_position_embeddings=%d."
                     % (default_seq_length, config.max_position_embeddings))
  vocab = tokenization.load_vocab(vocab_file)
  model = load_model(bert_config_file, input_checkpoint)
  tf.io.gfile.makedirs(output_dir)
  encoder_dir = os.path.join(output_dir, "encoder")
  preprocessing_dir = os.path.join(output_dir, "preprocessing")
  _save(EncoderModule(model), encoder_dir)
  logging.info("Wrote %s", encoder_dir)
  _save(PreprocessingModule(vocab, do_lower_case, default_seq_length), preprocessing_dir)
  logging.info("Wrote %s", preprocessing_dir)
  return encoder_dir, preprocessing_dir
