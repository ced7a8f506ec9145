"""Checkpoints between the original's TF1 format and Hugging Face transformers' BERT, both ways.

transformers 5 dropped its TensorFlow code, and with it the two functions that moved weights
between the original BERT's checkpoints and its PyTorch models. This package is that bridge,
exact and without PyTorch: weights go through numpy and the `safetensors` package.

  names              the TF1 <-> transformers name table; state dicts moved across, every bit
  configs            bert_config.json <-> transformers' config.json (activations by name)
  files              a transformers directory's files: tokenizer, weights; writing one atomically
  to_transformers    original checkpoint -> transformers directory
  from_transformers  transformers directory -> original checkpoint
  convert            (below) convert_checkpoint.py's one call: the direction its flags give

Reading and writing TF1 checkpoints goes through `storage.checkpoints` (TensorFlow, imported
there); the rest (name map, config and tokenizer files, safetensors) needs only numpy. Every path
may be a `gs://` URL (any `tf.io.gfile` filesystem), the transformers directories too.
"""

from bert_mlm.errors import UsageError
from bert_mlm.interop.huggingface import from_transformers
from bert_mlm.interop.huggingface import to_transformers

_TO_HF_FLAGS = ("input_checkpoint", "bert_config_file", "vocab_file", "do_lower_case",
                "output_hf_dir")
_FROM_HF_FLAGS = ("input_hf_dir", "output_checkpoint")


def convert(overwrite=False, **flag_values):
  """convert_checkpoint.py: one direction from the flags given (None = not given)."""
  unknown = sorted(set(flag_values) - set(_TO_HF_FLAGS) - set(_FROM_HF_FLAGS))
  if unknown:
    raise TypeError("unknown arguments: %s" % ", ".join(unknown))
  given = {name for name, value in flag_values.items() if value is not None}
  to_hf, from_hf = given & set(_TO_HF_FLAGS), given & set(_FROM_HF_FLAGS)
  usage = ("give either --input_checkpoint, --bert_config_file, --vocab_file, --do_lower_case "
           "and --output_hf_dir (original -> Hugging Face), or --input_hf_dir and "
           "--output_checkpoint (Hugging Face -> original)")
  if to_hf and from_hf:
    raise UsageError("The two directions' flags are mixed (%s with %s): %s."
                     % (_flag_list(to_hf), _flag_list(from_hf), usage))
  if not given:
    raise UsageError("Nothing to convert: %s." % usage)
  names = _TO_HF_FLAGS if to_hf else _FROM_HF_FLAGS
  # (A missing --do_lower_case gets its own message from checkpoint_to_hf.)
  missing = [name for name in names if name not in given and name != "do_lower_case"]
  if missing:
    raise UsageError("Missing %s: %s." % (_flag_list(missing), usage))
  values = {name: flag_values[name] for name in names}
  if to_hf:
    return to_transformers.checkpoint_to_hf(overwrite=overwrite, **values)
  return from_transformers.hf_to_checkpoint(overwrite=overwrite, **values)


def _flag_list(names):
  return ", ".join("--" + name for name in sorted(names))
