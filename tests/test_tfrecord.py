"""Our Example serialization parses, with TensorFlow, to exactly what tf.train.Example holds."""

import struct

import pytest
import tensorflow as tf

from bert_mlm.storage import tfrecord


def _tf_features(serialized):
  example = tf.train.Example.FromString(serialized)
  return {name: list(getattr(f, f.WhichOneof("kind")).value)
          for name, f in example.features.feature.items()}


@pytest.mark.parametrize("ints, floats", [
    ([0, 1, 127, 128, 16383, 16384, (1 << 17) - 1, 1 << 17, 2 ** 40], [1.0, 0.0, -2.5, 1e-20]),
    ([], []),
    ([5] * 600, [0.5] * 300),
])
def test_schema_serializes_what_tensorflow_parses(ints, floats):
  schema = tfrecord.ExampleSchema([("ids", tfrecord.INT64), ("weights", tfrecord.FLOAT),
                                   ("a_much_longer_feature_name_" * 5, tfrecord.INT64)])
  serialized = schema.serialize([tfrecord.pack_int64s(ints), tfrecord.pack_floats(floats),
                                 tfrecord.pack_int64s(ints[::-1])])
  features = _tf_features(serialized)
  assert features["ids"] == ints
  assert features["weights"] == [struct.unpack("<f", struct.pack("<f", f))[0] for f in floats]
  assert features["a_much_longer_feature_name_" * 5] == ints[::-1]
  assert tfrecord.parse_example(serialized) == features


def test_parse_example_reads_tensorflow_serialization():
  example = tf.train.Example(features=tf.train.Features(feature={
      "a": tf.train.Feature(int64_list=tf.train.Int64List(value=[3, 300, 0])),
      "b": tf.train.Feature(float_list=tf.train.FloatList(value=[0.25, 1.0])),
  }))
  assert tfrecord.parse_example(example.SerializeToString()) == {"a": [3, 300, 0],
                                                                 "b": [0.25, 1.0]}


def test_frames_read_back_with_checksums(tmp_path):
  path = str(tmp_path / "records")
  records = [b"", b"x", bytes(range(256)) * 40]
  with open(path, "wb") as f:
    for record in records:
      f.write(tfrecord.frame(record))
  assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == records
  # A flipped byte in the data fails TensorFlow's CRC check.
  data = bytearray(open(path, "rb").read())
  data[-10] ^= 0xFF
  open(path, "wb").write(bytes(data))
  with pytest.raises(tf.errors.DataLossError):
    list(tf.data.TFRecordDataset(path))
