"""`tf.train.Example` serialization and TFRecord framing, without TensorFlow.

An Example is a protobuf map {feature name: Feature}; a Feature holds an Int64List or FloatList,
both packed. We emit the wire format directly: the same parsed content as
`tf.train.Example(...).SerializeToString()`, several times faster, and no TensorFlow import.
(Map entry order is not fixed by protobuf; readers parse, they don't compare bytes.)

A TFRecord is: uint64 length, uint32 masked CRC32C of the length, the data, uint32 masked CRC32C
of the data, all little-endian. `tf.data.TFRecordDataset` checks both CRCs.
"""

import struct

import google_crc32c

_MASK_DELTA = 0xA282EAD8


def _varint(value):
  """Protobuf base-128 varint of a non-negative int (negative int64s are not used here)."""
  if value < 0:
    raise ValueError("negative values are not supported: %d" % value)
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


# Varints of small numbers (ids of most vocabularies, positions, lengths), looked up, not built.
_SMALL_VARINTS = [_varint(i) for i in range(1 << 17)]


def varint(value):
  return _SMALL_VARINTS[value] if value < len(_SMALL_VARINTS) else _varint(value)


def pack_int64s(values):
  """Packed varint payload of non-negative ints."""
  try:
    return b"".join([_SMALL_VARINTS[v] for v in values])
  except IndexError:
    return b"".join([varint(v) for v in values])


def pack_floats(values):
  """Packed little-endian float32 payload."""
  return struct.pack("<%df" % len(values), *values)


INT64 = "int64_list"
FLOAT = "float_list"
# Field numbers of Feature's oneof (bytes_list = 1 is not used here).
_KIND_FIELD = {FLOAT: 2, INT64: 3}


class ExampleSchema(object):
  """Serializes tf.train.Examples with fixed feature names and kinds from packed payloads.

  Everything around a payload (map entry, key, Feature, Int64List/FloatList and their lengths)
  depends only on the feature and the payload's length, so it is built once per length and
  cached: serializing an example is then a handful of lookups and one join.
  """

  def __init__(self, features):
    """features: [(name, INT64 or FLOAT)] in the order payloads will be passed."""
    self.features = list(features)
    self._prefixes = [{} for _ in self.features]

  def _prefix(self, index, payload_length):
    name, kind = self.features[index]
    key = b"\x0a" + varint(len(name.encode("utf-8"))) + name.encode("utf-8")
    value_list = (b"\x0a" + varint(payload_length)) if payload_length else b""
    list_length = len(value_list) + payload_length
    feature_head = bytes([_KIND_FIELD[kind] << 3 | 2]) + varint(list_length) + value_list
    feature_length = len(feature_head) + payload_length
    entry_head = key + b"\x12" + varint(feature_length) + feature_head
    prefix = b"\x0a" + varint(len(entry_head) + payload_length) + entry_head
    self._prefixes[index][payload_length] = prefix
    return prefix

  def serialize(self, payloads):
    """Serialized Example (bytes) from one packed payload per feature, in schema order."""
    parts = []
    for index, payload in enumerate(payloads):
      prefix = self._prefixes[index].get(len(payload)) or self._prefix(index, len(payload))
      parts.append(prefix)
      parts.append(payload)
    features = b"".join(parts)
    return b"\x0a" + varint(len(features)) + features


def _read_varint(data, pos):
  result = shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7F) << shift
    if byte < 0x80:
      return result, pos
    shift += 7


def _fields(data):
  """(field number, wire type, value) of a message; value is bytes for length-delimited."""
  pos = 0
  while pos < len(data):
    tag, pos = _read_varint(data, pos)
    field, wire_type = tag >> 3, tag & 7
    if wire_type == 0:
      value, pos = _read_varint(data, pos)
    elif wire_type == 2:
      length, pos = _read_varint(data, pos)
      value, pos = data[pos:pos + length], pos + length
    elif wire_type == 5:
      value, pos = data[pos:pos + 4], pos + 4
    else:
      raise ValueError("unsupported wire type %d" % wire_type)
    yield field, wire_type, value


def parse_example(serialized):
  """{name: list of values} of a serialized Example with int64/float features.

  For logging and checks without TensorFlow; handles packed and unpacked repeated fields.
  """
  parsed = {}
  for _, _, features in _fields(serialized):
    for _, _, entry in _fields(features):
      name, values = None, []
      for field, _, value in _fields(entry):
        if field == 1:
          name = value.decode("utf-8")
          continue
        for kind_field, _, value_list in _fields(value):
          for _, wire_type, item in _fields(value_list):
            if kind_field == 2:
              values.extend(struct.unpack("<%df" % (len(item) // 4), item))
            elif wire_type == 2:
              pos = 0
              while pos < len(item):
                number, pos = _read_varint(item, pos)
                values.append(number)
            else:
              values.append(item)
      parsed[name] = values
  return parsed


def _masked_crc(data):
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(record):
  """One TFRecord: header, data, footer."""
  length = struct.pack("<Q", len(record))
  return b"".join((length, struct.pack("<I", _masked_crc(length)), record,
                   struct.pack("<I", _masked_crc(record))))
