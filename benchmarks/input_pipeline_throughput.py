"""Input pipeline throughput: our make_dataset against the original's per-record decoding.

Writes synthetic pretraining TFRecords (seq 128, 20 predictions), then reads batches through
`bert_mlm.training.input_pipeline.make_dataset` (training: shuffled files, interleave, record shuffle;
eval: in order) and through the same pipeline decoding record by record before batching, as the
original's input_fn does (`parse_single_example` in a map, then batch). Prints examples/s and
the ratio. With --dynamic_masking it also reads unmasked records (the same sequences) through
make_dataset with a DynamicMasking (per-token and whole-word), against our static pipeline. The
pipeline must outrun the accelerator: a GPU trains BERT-Base at a few thousand sequences/s.
With --skip_corrupt_records it also reads the same records through make_dataset with
--skip_corrupt_records' checking reader (frames, CRCs and layouts checked in Python), against
TensorFlow's reader.

  python benchmarks/input_pipeline_throughput.py [--examples 20000] [--batch 256] \
      [--dynamic_masking] [--skip_corrupt_records]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bert_mlm.training import input_faults  # pylint: disable=wrong-import-position
from bert_mlm.training import record_layout  # pylint: disable=wrong-import-position
from bert_mlm.training import dynamic_masking  # pylint: disable=wrong-import-position
from bert_mlm.training import input_pipeline  # pylint: disable=wrong-import-position
from bert_mlm import schema  # pylint: disable=wrong-import-position
from bert_mlm.storage import tfrecord  # pylint: disable=wrong-import-position
from bert_mlm import unmasked_examples  # pylint: disable=wrong-import-position

_SEQ, _PREDICTIONS = 128, 20


def write_records(path, count, seed=0):
  lengths = schema.feature_lengths(_SEQ, _PREDICTIONS)
  example_schema = tfrecord.ExampleSchema(
      [(n, tfrecord.FLOAT if schema.DTYPES[n] == schema.FLOAT32 else tfrecord.INT64)
       for n in lengths])
  rng = np.random.RandomState(seed)
  with open(path, "wb") as f:
    for _ in range(count):
      payloads = [tfrecord.pack_floats([1.0] * length) if schema.DTYPES[name] == schema.FLOAT32
                  else tfrecord.pack_int64s(rng.randint(0, 30522, length).tolist())
                  for name, length in lengths.items()]
      f.write(tfrecord.frame(example_schema.serialize(payloads)))


def per_record_dataset(path, batch_size, is_training):
  """The original's order: decode each record, then batch."""
  features = {name: tf.io.FixedLenFeature([length], tf.dtypes.as_dtype(schema.DTYPES[name]))
              for name, length in schema.feature_lengths(_SEQ, _PREDICTIONS).items()}

  def decode(record):
    example = tf.io.parse_single_example(record, features)
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}

  d = tf.data.TFRecordDataset([path]).repeat()
  if is_training:
    d = d.shuffle(100)
  d = d.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
  return d.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def synthetic_vocab(size=30522):
  """{token: id}: the released layout's special ids, every fifth other token a ## piece."""
  special = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
  return {special.get(i, ("##t%d" if i % 5 == 0 else "t%d") % i): i for i in range(size)}


def write_unmasked_records(path, count, vocab, seed=0):
  """Full-length [CLS] A [SEP] B [SEP] sequences in the unmasked layout."""
  maker, encoder = unmasked_examples.maker_and_encoder(vocab, _SEQ)
  rng = np.random.RandomState(seed)
  with open(path, "wb") as f:
    for _ in range(count):
      body = rng.randint(1000, len(vocab), _SEQ - 3).tolist()
      split = rng.randint(1, len(body))
      instance = maker.create_instance(body[:split], body[split:], bool(rng.randint(2)), None)
      f.write(tfrecord.frame(encoder.encode(instance)))


def examples_per_second(dataset, batch_size, batches):
  iterator = iter(dataset)
  next(iterator)
  start = time.time()
  for _ in range(batches):
    next(iterator)
  return batches * batch_size / (time.time() - start)


def _skip_corrupt_records_table(path, args):
  print()
  print("| pipeline | TensorFlow's reader examples/s | --skip_corrupt_records examples/s | ratio |")
  print("|---|---|---|---|")
  # Best of three, the two readers taking turns (one pass varies by 2x or more here).
  for is_training in (True, False):
    rates = {False: 0.0, True: 0.0}
    for _ in range(3):
      for skipping in (False, True):
        skipped = input_faults.SkippingReader(
            [path], record_layout.RecordLayout(_SEQ, _PREDICTIONS)) if skipping else None
        rates[skipping] = max(rates[skipping], examples_per_second(input_pipeline.make_dataset(
            [path], _SEQ, _PREDICTIONS, args.batch, is_training=is_training,
            skip_corrupt=skipped), args.batch, args.batches))
        assert skipped is None or skipped.records == 0
    print("| %s | %.0f | %.0f | %.2fx |" % ("training" if is_training else "eval", rates[False],
                                             rates[True], rates[True] / rates[False]), flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--examples", type=int, default=20000)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--batches", type=int, default=60)
  parser.add_argument("--dynamic_masking", action="store_true")
  parser.add_argument("--skip_corrupt_records", action="store_true")
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "records.tfrecord")
    write_records(path, args.examples)
    print("| pipeline | ours examples/s | per-record decode examples/s | ratio |")
    print("|---|---|---|---|")
    for is_training in (True, False):
      ours = examples_per_second(input_pipeline.make_dataset(
          [path], _SEQ, _PREDICTIONS, args.batch, is_training=is_training), args.batch,
                                 args.batches)
      theirs = examples_per_second(per_record_dataset(path, args.batch, is_training),
                                   args.batch, args.batches)
      print("| %s | %.0f | %.0f | %.1fx |" % ("training" if is_training else "eval", ours,
                                              theirs, ours / theirs), flush=True)
    if args.skip_corrupt_records:
      _skip_corrupt_records_table(path, args)
    if not args.dynamic_masking:
      return
    vocab = synthetic_vocab()
    unmasked = os.path.join(directory, "unmasked.tfrecord")
    write_unmasked_records(unmasked, args.examples, vocab)
    print()
    print("| pipeline | static masks examples/s | dynamic masking examples/s | ratio |")
    print("|---|---|---|---|")
    # Best of three, the pipelines taking turns: on a shared machine one pass varies by 1.5x.
    for is_training in (True, False):
      datasets = {"static": input_pipeline.make_dataset(
          [path], _SEQ, _PREDICTIONS, args.batch, is_training=is_training)}
      for whole_words in (False, True):
        masking = dynamic_masking.DynamicMasking(vocab, 0.15, whole_words)
        datasets[whole_words] = input_pipeline.make_dataset(
            [unmasked], _SEQ, _PREDICTIONS, args.batch, is_training=is_training, seed=1,
            masking=masking)
      best = {key: 0.0 for key in datasets}
      for _ in range(3):
        for key, dataset in datasets.items():
          best[key] = max(best[key], examples_per_second(dataset, args.batch, args.batches))
      for whole_words in (False, True):
        print("| %s, %s | %.0f | %.0f | %.2fx |" % (
            "training" if is_training else "eval", "whole words" if whole_words else "tokens",
            best["static"], best[whole_words], best[whole_words] / best["static"]), flush=True)


if __name__ == "__main__":
  main()
