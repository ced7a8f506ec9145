"""Pretrains BERT (masked LM + next sentence) on TFRecords from create_pretraining_data.py.

The original BERT `run_pretraining.py` command line on TensorFlow 2: the same flags and defaults,
the same optimizer and schedule, checkpoints `output_dir/model.ckpt-<step>` in the original's
format, and `output_dir/eval_results.txt`, on CPU, GPU(s) or TPU through tf.distribute.

  python run_pretraining.py --bert_config_file=configs/bert_base_uncased.json \\
      --input_file=data/*.tfrecord --output_dir=out --do_train --do_eval \\
      --train_batch_size=32 --max_seq_length=128 --max_predictions_per_seq=20 \\
      --num_train_steps=100000 --num_warmup_steps=10000 --learning_rate=1e-4

Also `bert-mlm-run-pretraining` and `python -m bert_mlm.cli.run_pretraining`.
"""

from absl import flags
from absl import logging

from bert_mlm import allocator
from bert_mlm import config as config_lib
from bert_mlm import create_pretraining_data
from bert_mlm import errors
from bert_mlm.cli import command
from bert_mlm.storage import file_io
from bert_mlm.training import distribute
from bert_mlm.training import dry_run
from bert_mlm.training import dynamic_masking
from bert_mlm.training import loop

flags.DEFINE_string("bert_config_file", None,
                    "The config json file corresponding to the pre-trained BERT model. "
                    "This specifies the model architecture.")
flags.DEFINE_string("input_file", None,
                    "Input TF example files (can be a glob or comma separated).")
flags.DEFINE_string("output_dir", None,
                    "The output directory where the model checkpoints will be written.")
command.define_flags(loop.PretrainingOptions, {
    "init_checkpoint": "Initial checkpoint (usually from a pre-trained BERT model).",
    "max_seq_length": "The maximum total input sequence length after WordPiece tokenization. "
                      "Must match data generation.",
    "max_predictions_per_seq": "Maximum number of masked LM predictions per sequence. "
                               "Must match data generation.",
    "do_train": "Whether to run training.",
    "do_eval": "Whether to run eval on the dev set.",
    "train_batch_size": "Total batch size for training.",
    "eval_batch_size": "Total batch size for eval.",
    "learning_rate": "The initial learning rate for Adam.",
    "num_train_steps": "Number of training steps.",
    "num_warmup_steps": "Number of warmup steps.",
    "save_checkpoints_steps": "How often to save the model checkpoint.",
    "iterations_per_loop": "How many steps to run in each compiled call (one device round "
                           "trip).",
    "max_eval_steps": "Maximum number of eval steps.",
    # Not in the original.
    "seed": "Random seed for initialisation, dropout and input shuffling: two runs with the "
            "same seed and data write identical checkpoints.",
    "train_shuffle": "Shuffle training files and records as the original does. False reads the "
                     "records in file order (parity tests, debugging).",
    "optimizer": "adamw: the original's AdamWeightDecay. lamb: layer-wise adaptive (LAMB) for "
                 "large batches, with the same weight decay exclusions.",
    "mixed_precision": "bf16 or fp16: compute in bfloat16 or float16 with float32 variables, "
                       "slots, checkpoints, softmax and losses; fp16 adds dynamic loss "
                       "scaling. Empty: float32.",
    "use_xla": "Compile the forward and backward pass with XLA.",
    "gradient_accumulation_steps": "Micro-batches of --train_batch_size per optimizer step: the "
                                   "step equals one on a batch N times larger; the schedule and "
                                   "global_step count optimizer steps.",
    "skip_corrupt_records": "Read past corrupt training/eval records instead of stopping: a "
                            "record cut short or failing its CRC ends that file's pass "
                            "(TFRecord files can't be read past one), a record of another "
                            "layout is dropped; each is counted and logged. Slower reading "
                            "(frames checked in Python). Default: stop with a checkpoint and an "
                            "error naming the file and byte offset.",
})
flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.")
flags.DEFINE_string("tpu_name", None,
                    "The Cloud TPU to use for training. This should be either the name used when "
                    "creating the Cloud TPU, or a grpc://ip.address.of.tpu:8470 url.")
flags.DEFINE_string("tpu_zone", None,
                    "[Optional] GCE zone where the Cloud TPU is located in. If not specified, "
                    "we will attempt to automatically detect the GCE project from metadata.")
flags.DEFINE_string("gcp_project", None,
                    "[Optional] Project name for the Cloud TPU-enabled project. If not "
                    "specified, we will attempt to automatically detect the GCE project from "
                    "metadata.")
flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL.")
flags.DEFINE_integer("num_tpu_cores", 8,
                     "Only used if `use_tpu` is True. Total number of TPU cores to use.")
# Not in the original.
flags.DEFINE_string("distribution_strategy", "",
                    "How to run: one_device (CPU or one GPU), mirrored (all local GPUs), "
                    "multi_worker_mirrored (several machines from TF_CONFIG; the chief writes), "
                    "tpu. Default: tpu with --use_tpu, else mirrored on several GPUs, else "
                    "one_device.")
flags.DEFINE_string("vocab_file", None,
                    "Optional: the vocabulary the data was made with; its size must equal the "
                    "config's vocab_size (checked before any step). Required with "
                    "--dynamic_masking.")
flags.DEFINE_bool("dynamic_masking", False,
                  "Mask each batch in the input pipeline (tensorflow-text) instead of reading "
                  "the records' masks: the records must come from create_pretraining_data.py "
                  "--dynamic_masking=True. Training draws fresh masks every time (reproducible "
                  "with --seed); evaluation uses a fixed mask per record.")
# Dynamic masking masks as data creation does, with its defaults.
command.define_flags(create_pretraining_data.DataOptions, {
    "masked_lm_prob": "With --dynamic_masking: the original's masked LM probability.",
    "do_whole_word_mask": "With --dynamic_masking: mask whole words (a token and its ## "
                          "pieces).",
})
flags.DEFINE_bool("dry_run", False,
                  "Check the flags, config, vocabulary, input records, init checkpoint and output "
                  "directory, then stop: nothing is trained or written. Local files are read; "
                  "gs:// (any URL) paths are checked for their form only, not contacted.")

FLAGS = flags.FLAGS


def _masking(build=True):
  """The DynamicMasking of --dynamic_masking (None without it); build=False only checks."""
  if not FLAGS.dynamic_masking:
    if FLAGS["masked_lm_prob"].present or FLAGS["do_whole_word_mask"].present:
      logging.warning("--masked_lm_prob and --do_whole_word_mask only apply with "
                      "--dynamic_masking; the records' own masks are used.")
    return None
  if not FLAGS.vocab_file:
    raise errors.UsageError("--dynamic_masking needs --vocab_file (the vocabulary the records "
                            "were made with).")
  if not build:
    return None
  return dynamic_masking.DynamicMasking.from_vocab_file(
      FLAGS.vocab_file, FLAGS.masked_lm_prob, FLAGS.do_whole_word_mask)


def _options(bert_config, input_files, masking=None):
  return command.options_from_flags(loop.PretrainingOptions, bert_config=bert_config,
                                    input_files=input_files, dynamic_masking=masking)


def run(_):
  """The command, its flags parsed."""
  logging.set_verbosity(logging.INFO)
  allocator.tune_malloc()  # before TensorFlow allocates the step's buffers
  with errors.one_line_errors("run_pretraining.py"):
    if FLAGS.dry_run:
      _masking(build=False)
      dry_run.check_pretraining(
          _options(None, []), FLAGS.bert_config_file, FLAGS.vocab_file, FLAGS.input_file,
          distribute.strategy_name(FLAGS.distribution_strategy, FLAGS.use_tpu, FLAGS.tpu_name,
                                   FLAGS.master), FLAGS.num_tpu_cores)
      return
    bert_config = config_lib.BertConfig.from_json_file(FLAGS.bert_config_file)
    if FLAGS.vocab_file:
      config_lib.check_vocab_size(bert_config, FLAGS.vocab_file)
    input_files = file_io.expand_patterns(FLAGS.input_file)
    logging.info("*** Input Files ***")
    for path in input_files:
      logging.info("  %s", path)
    strategy = distribute.get_strategy(FLAGS.distribution_strategy, FLAGS.use_tpu,
                                       FLAGS.tpu_name, FLAGS.tpu_zone, FLAGS.gcp_project,
                                       FLAGS.master, FLAGS.num_tpu_cores)
    loop.run_pretraining(_options(bert_config, input_files, _masking()), strategy)


def main():
  command.run(run, __name__, required=("input_file", "bert_config_file", "output_dir"))


if __name__ == "__main__":
  main()
