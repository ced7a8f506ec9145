"""A transformers model directory -> original (TF1) checkpoint, bert_config.json and vocab.txt."""

import os

from absl import logging

from bert_mlm.errors import UsageError
from bert_mlm.interop.huggingface import configs
from bert_mlm.interop.huggingface import files
from bert_mlm.interop.huggingface import names
from bert_mlm.storage import atomic
from bert_mlm.storage import file_io


def hf_to_checkpoint(input_hf_dir, output_checkpoint, overwrite=False):
  """Writes an original (TF1) checkpoint, bert_config.json and vocab.txt from transformers' BERT.

  The checkpoint holds what the directory has (a BertModel has no heads, a BertForMaskedLM no
  pooler); `run_pretraining.py --init_checkpoint` starts the rest from their initializers, as
  the original's init_checkpoint rule does.

  Args:
    input_hf_dir: a transformers BertForPreTraining, BertForMaskedLM,
      BertForNextSentencePrediction or BertModel directory (config.json + model.safetensors, or
      pytorch_model.bin when torch is installed).
    output_checkpoint: the checkpoint prefix to write (e.g. out/bert_model.ckpt); bert_config.json
      and vocab.txt go beside it.
    overwrite: replace existing output files.
  Returns:
    {"architecture", "parts", "tensors": count, "missing": TF1 names left to init_checkpoint,
     "hidden_act": ours, "do_lower_case": the tokenizer's (None if unknown)}.
  Raises:
    UsageError: bad input, before anything is written.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bert_mlm.storage import checkpoints  # pylint: disable=g-import-not-at-top
  config_path = file_io.join(input_hf_dir, files.HF_CONFIG)
  if not file_io.isdir(input_hf_dir):
    raise UsageError("--input_hf_dir=%s is not a directory." % input_hf_dir)
  if not files.isfile(config_path):
    raise UsageError("--input_hf_dir=%s is not a transformers model directory (no %s)."
                     % (input_hf_dir, files.HF_CONFIG))
  if tf.io.gfile.isdir(output_checkpoint):
    raise UsageError("--output_checkpoint=%s is a directory; give a checkpoint prefix such as "
                     "%s" % (output_checkpoint, os.path.join(output_checkpoint, "bert_model.ckpt")))
  hf_config = files.read_json(config_path)
  config = configs.bert_config_from_hf(hf_config, config_path)
  tokens, vocab_source = files.read_hf_vocab(input_hf_dir)
  directory, outputs = _checkpoint_outputs(output_checkpoint, tokens is not None)
  existing = [path for path in outputs if tf.io.gfile.exists(path)]
  if existing and not overwrite:
    raise UsageError("%s already exists; pass --overwrite to replace it."
                     % ", ".join(existing))
  hf_tensors, weights_source = files.read_hf_weights(input_hf_dir)
  original, parts, architecture = names.hf_to_original(
      hf_tensors, config, weights_source, config_path,
      vocab=None if tokens is None else (len(tokens), vocab_source),
      tie_word_embeddings=hf_config.get("tie_word_embeddings", True) is not False)
  missing = sorted(weight.tf_name for weight in names.weight_table(config)
                   if weight.tf_name not in original)

  # The config and vocabulary first, the checkpoint last: a checkpoint under its final name has
  # its bert_config.json beside it.
  tf.io.gfile.makedirs(directory)
  written = {files.BERT_CONFIG: config.to_json_string()}
  if tokens is not None:
    written[files.VOCAB] = "".join(token + "\n" for token in tokens)
  written_names = sorted(written)
  with atomic.AtomicOutputs([os.path.join(directory, name) for name in written_names]) as outputs:
    for f, name in zip(outputs, written_names):
      f.write(written[name].encode("utf-8"))
  checkpoints.save_checkpoint(output_checkpoint, original)

  do_lower_case = files.read_hf_do_lower_case(input_hf_dir)
  logging.info("Wrote %s (%d variables) from %s (%s), and %s.", output_checkpoint,
               len(original), weights_source, architecture, ", ".join(written_names))
  if config.hidden_act == "gelu_exact":
    logging.info("hidden_act: transformers' \"gelu\" (exact erf) is \"gelu_exact\" here; the "
                 "original's own code does not know it and refuses this bert_config.json.")
  if missing:
    logging.info("Not in %s, left to --init_checkpoint's rule (initialised, not loaded): %s",
                 input_hf_dir, ", ".join(sorted({name.rsplit("/", 1)[0] for name in missing})))
  if tokens is None:
    logging.warning("%s has no vocab.txt or tokenizer.json: no vocab.txt written; use the "
                    "vocabulary the model was trained with.", input_hf_dir)
  if do_lower_case is not None:
    logging.info("The tokenizer %s: use --do_lower_case=%s with create_pretraining_data.py.",
                 "lower-cases" if do_lower_case else "keeps case", do_lower_case)
  return {"architecture": architecture, "parts": sorted(parts), "tensors": len(original),
          "missing": missing, "hidden_act": config.hidden_act, "do_lower_case": do_lower_case}


def _checkpoint_outputs(output_checkpoint, with_vocab):
  directory = os.path.dirname(output_checkpoint) or "."
  outputs = [output_checkpoint + ".index", output_checkpoint + ".data-00000-of-00001",
             os.path.join(directory, files.BERT_CONFIG)]
  if with_vocab:
    outputs.append(os.path.join(directory, files.VOCAB))
  return directory, outputs
