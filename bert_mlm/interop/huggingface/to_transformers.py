"""Original (TF1) checkpoint -> a transformers model directory."""

import json

from absl import logging

from bert_mlm import tokenization
from bert_mlm.config import BertConfig
from bert_mlm.errors import UsageError
from bert_mlm.interop.huggingface import configs
from bert_mlm.interop.huggingface import files
from bert_mlm.interop.huggingface import names


def checkpoint_to_hf(input_checkpoint, bert_config_file, vocab_file, do_lower_case,
                     output_hf_dir, overwrite=False):
  """Writes a transformers model directory from an original (TF1) checkpoint.

  Args:
    input_checkpoint: TF1 checkpoint prefix, or a directory with a `checkpoint` file.
    bert_config_file: its bert_config.json.
    vocab_file: its vocab.txt.
    do_lower_case: whether the vocabulary is uncased (as create_pretraining_data.py's flag).
    output_hf_dir: the directory to write: model.safetensors, config.json, vocab.txt,
      tokenizer_config.json.
    overwrite: replace the model in an existing non-empty directory.
  Returns:
    {"architecture", "parts", "tensors": count, "dropped": TF1 names not converted}.
  Raises:
    UsageError: bad input, before anything is written.
  """
  from bert_mlm.storage import checkpoints  # pylint: disable=g-import-not-at-top
  if do_lower_case is None:
    raise UsageError("--do_lower_case is required with --output_hf_dir: True for an uncased "
                     "vocabulary, False for a cased one (the tokenizer written follows it).")
  files.check_output_dir(output_hf_dir, overwrite)
  config = BertConfig.from_json_file(bert_config_file)
  vocab = tokenization.load_vocab(vocab_file)
  tokenization.require_tokens(vocab, (tokenization.UNK_TOKEN, tokenization.CLS_TOKEN,
                                      tokenization.SEP_TOKEN, tokenization.MASK_TOKEN), vocab_file)
  reader = checkpoints.CheckpointReader(input_checkpoint)
  dropped = sorted(name for name in reader.shapes
                   if name == checkpoints.GLOBAL_STEP or checkpoints.is_optimizer_slot(name))
  shapes = {name: shape for name, shape in reader.shapes.items() if name not in dropped}
  table = names.weight_table(config)
  known = {weight.tf_name for weight in table}
  unknown = sorted(name for name in shapes if name not in known)
  if unknown:
    raise UsageError(
        "Checkpoint %s: %d variables are not BERT's pretraining model with %d layers (%s); a "
        "fine-tuned model's head, or the checkpoint of another config?"
        % (reader.path, len(unknown), config.num_hidden_layers, ", ".join(unknown[:4])))
  parts = names.complete_parts(shapes, table, "Checkpoint " + reader.path)
  architecture = names.architecture_of(parts, "Checkpoint " + reader.path)
  names.check_vocab_rows(len(vocab), vocab_file, shapes[table[0].tf_name][0],
                         "checkpoint " + reader.path)
  names.check_shapes(shapes, table, "Checkpoint " + reader.path, bert_config_file,
                     hf_layout=False)

  tensors = names.original_to_hf({name: reader.read(name) for name in shapes}, config,
                                 architecture)
  texts = {files.HF_CONFIG: json.dumps(configs.hf_config_dict(config, architecture), indent=2,
                                       sort_keys=True) + "\n"}
  texts.update(files.tokenizer_files(list(vocab), do_lower_case, config.max_position_embeddings))
  files.write_hf_dir(output_hf_dir, tensors, texts, overwrite)
  logging.info("Wrote %s: %s with %d tensors (hidden_act %s -> %s)%s.", output_hf_dir,
               architecture, len(tensors), config.hidden_act,
               configs.TO_HF_ACTIVATION[config.hidden_act.lower()],
               "; dropped %d optimizer slots and global_step" % len(dropped) if dropped else "")
  return {"architecture": architecture, "parts": sorted(parts), "tensors": len(tensors),
          "dropped": dropped}
