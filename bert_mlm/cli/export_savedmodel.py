"""Exports a checkpoint as TensorFlow SavedModels in the TF Hub BERT convention.

Writes DIR/encoder (a dict of int32 input_word_ids, input_mask, input_type_ids -> pooled_output,
sequence_output, encoder_outputs, default; an `mlm` function and signature that also take
masked_lm_positions and return mlm_logits) and DIR/preprocessing (`tokenize` on a batch of
strings with a tensorflow-text WordPiece tokenizer that gives FullTokenizer's ids, and
`bert_pack_inputs` for one or two segments). Both load with tf.saved_model.load where only
tensorflow and tensorflow-text are installed:

  python export_savedmodel.py --input_checkpoint=out/model.ckpt-100000 \\
      --bert_config_file=configs/bert_base_uncased.json --vocab_file=vocab.txt \\
      --do_lower_case=True --output_dir=export

  import tensorflow as tf, tensorflow_text  # registers the tokenizer's ops
  preprocess = tf.saved_model.load("export/preprocessing")
  encoder = tf.saved_model.load("export/encoder")
  outputs = encoder(preprocess.bert_pack_inputs(
      [preprocess.tokenize(tf.constant(["Hello world."]))], seq_length=128))

Also `bert-mlm-export-savedmodel` and `python -m bert_mlm.cli.export_savedmodel`.
"""

from absl import flags
from absl import logging

from bert_mlm import allocator
from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.interop import savedmodel

flags.DEFINE_string("input_checkpoint", None,
                    "Checkpoint prefix (or a directory with a `checkpoint` file) with the encoder "
                    "and the masked LM head (training checkpoints and bert_model.ckpt both do).")
flags.DEFINE_string("bert_config_file", None, "The model's bert_config.json.")
flags.DEFINE_string("vocab_file", None, "The vocabulary the model was trained with.")
flags.DEFINE_bool("do_lower_case", True,
                  "Lower-case and strip accents in the preprocessing: True for uncased models.")
flags.DEFINE_string("output_dir", None,
                    "Writes <output_dir>/encoder and <output_dir>/preprocessing (replacing them).")
flags.DEFINE_integer("seq_length", savedmodel.DEFAULT_SEQ_LENGTH,
                     "bert_pack_inputs' default seq_length (any can be passed when calling it).")
FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  allocator.tune_malloc()  # before TensorFlow allocates the step's buffers
  with errors.one_line_errors("export_savedmodel.py"):
    savedmodel.export_savedmodels(FLAGS.input_checkpoint, FLAGS.bert_config_file, FLAGS.vocab_file,
                              FLAGS.do_lower_case, FLAGS.output_dir, FLAGS.seq_length)


def main():
  command.run(run, __name__, required=("input_checkpoint", "bert_config_file",
                                        "vocab_file", "output_dir"))


if __name__ == "__main__":
  main()
