"""Converts checkpoints between the original BERT (TF1) and Hugging Face transformers, both ways.

No PyTorch needed: weights go through numpy and safetensors. Original -> transformers (a
directory that BertForPreTraining.from_pretrained and AutoTokenizer.from_pretrained load):

  python convert_checkpoint.py --input_checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \\
      --bert_config_file=uncased_L-12_H-768_A-12/bert_config.json \\
      --vocab_file=uncased_L-12_H-768_A-12/vocab.txt --do_lower_case=True \\
      --output_hf_dir=bert-base-uncased-hf

transformers -> original (bert_config.json and vocab.txt beside the checkpoint, for
run_pretraining.py --init_checkpoint=hf-bert/bert_model.ckpt):

  python convert_checkpoint.py --input_hf_dir=bert-base-uncased-hf \\
      --output_checkpoint=hf-bert/bert_model.ckpt

Also `bert-mlm-convert-checkpoint` and `python -m bert_mlm.cli.convert_checkpoint`.
"""

from absl import flags
from absl import logging

from bert_mlm import allocator
from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.interop import huggingface

flags.DEFINE_string("input_checkpoint", None,
                    "Original -> transformers: the TF1 checkpoint prefix (or a directory with a "
                    "`checkpoint` file). Optimizer slots and global_step are dropped.")
flags.DEFINE_string("bert_config_file", None, "Original -> transformers: its bert_config.json.")
flags.DEFINE_string("vocab_file", None, "Original -> transformers: its vocab.txt.")
flags.DEFINE_bool("do_lower_case", None,
                  "Original -> transformers (required): True for an uncased vocabulary, False "
                  "for a cased one; the exported tokenizer follows it.")
flags.DEFINE_string("output_hf_dir", None,
                    "Original -> transformers: the directory to write (model.safetensors, "
                    "config.json, vocab.txt, tokenizer_config.json).")
flags.DEFINE_string("input_hf_dir", None,
                    "transformers -> original: a BertForPreTraining, BertForMaskedLM, "
                    "BertForNextSentencePrediction or BertModel directory (model.safetensors, "
                    "or pytorch_model.bin when torch is installed).")
flags.DEFINE_string("output_checkpoint", None,
                    "transformers -> original: the checkpoint prefix to write (e.g. "
                    "out/bert_model.ckpt); bert_config.json and vocab.txt go beside it.")
flags.DEFINE_bool("overwrite", False,
                  "Replace existing outputs: the files of --output_checkpoint, or the model in "
                  "a non-empty --output_hf_dir (files transformers would read instead of the "
                  "converted ones, such as tokenizer.json, are removed; others are kept).")
FLAGS = flags.FLAGS


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  allocator.tune_malloc()  # before TensorFlow allocates the step's buffers
  with errors.one_line_errors("convert_checkpoint.py"):
    huggingface.convert(
        input_checkpoint=FLAGS.input_checkpoint, bert_config_file=FLAGS.bert_config_file,
        vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
        output_hf_dir=FLAGS.output_hf_dir, input_hf_dir=FLAGS.input_hf_dir,
        output_checkpoint=FLAGS.output_checkpoint, overwrite=FLAGS.overwrite)


def main():
  command.run(run, __name__)


if __name__ == "__main__":
  main()
