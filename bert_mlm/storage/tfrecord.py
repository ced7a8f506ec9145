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


# ---------------------------------------------------------------------------------------------
# Checking framing, to say which record of which file is broken and how. TensorFlow's reader
# reports "corrupted record at <offset>" without the file; these find the file and the reason.

_HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of it
_FOOTER_BYTES = 4   # uint32 masked CRC of the data


def _header_length(header):
  """The data length a 12-byte header declares, or None if its CRC does not match."""
  length_bytes, crc = header[:8], struct.unpack("<I", header[8:])[0]
  if _masked_crc(length_bytes) != crc:
    return None
  return struct.unpack("<Q", length_bytes)[0]


def record_fault(reader, offset, size):
  """Why the record at byte `offset` of a TFRecord file can't be read, or None if it can.

  Args:
    reader: the file, open in binary mode and seekable (a Python file or a tf.io.gfile.GFile).
    offset: where the record starts.
    size: the file's size in bytes.
  Returns:
    None when a whole record with both CRCs right starts at `offset`; else a phrase such as
    "the record is cut short: ...", for a message that names the file and offset.
  """
  if size - offset < _HEADER_BYTES:
    return ("the record is cut short: the file ends %d bytes into its %d-byte header "
            "(an interrupted copy?)" % (size - offset, _HEADER_BYTES))
  reader.seek(offset)
  length = _header_length(reader.read(_HEADER_BYTES))
  if length is None:
    return "the record's length field fails its CRC check (corrupt bytes)"
  end = offset + _HEADER_BYTES + length + _FOOTER_BYTES
  if end > size:
    return ("the record is cut short: it holds %d bytes of data but the file ends %d bytes "
            "after its start (an interrupted copy?)" % (length, size - offset))
  data = reader.read(length)
  crc = struct.unpack("<I", reader.read(_FOOTER_BYTES))[0]
  if _masked_crc(data) != crc:
    return "the record's data fail their CRC check (corrupt bytes)"
  return None


def walk_records(reader, size, start=0, stop=None):
  """Follows the record headers from byte `start` without reading the data.

  Each header's own CRC is checked, so a walk that starts on a record boundary stays on them.

  Returns:
    (records, position): how many whole records were passed and the offset where the walk
    ended: `stop` (or the first boundary past it), `size`, or the first record that is cut
    short or whose header fails its CRC.
  """
  position, records = start, 0
  while position < size and (stop is None or position < stop):
    if size - position < _HEADER_BYTES:
      break
    reader.seek(position)
    length = _header_length(reader.read(_HEADER_BYTES))
    if length is None:
      break
    end = position + _HEADER_BYTES + length + _FOOTER_BYTES
    if end > size:
      break
    position, records = end, records + 1
  return records, position


def count_from_broken(reader, start, size):
  """How many records a reader stopped at the broken record at `start` can't reach.

  Returns:
    (records, lost): the broken record and those after it whose headers can still be followed;
    `lost` is True when bytes remain after them that can't be framed (after a length field that
    fails its CRC nothing can be: the records there are not counted).
  """
  reader.seek(start)
  header = reader.read(_HEADER_BYTES)
  if len(header) < _HEADER_BYTES:
    return 1, False
  length = _header_length(header)
  if length is None:
    return 1, size - start > _HEADER_BYTES
  after = start + _HEADER_BYTES + length + _FOOTER_BYTES
  if after > size:
    return 1, False
  records, position = walk_records(reader, size, start=after)
  return 1 + records, position < size


def read_records(reader, size):
  """Yields (offset, data) of each whole record of a TFRecord file, both CRCs checked, up to the
  first broken one; then, if one is broken, (its offset, None): what tf.data's reader reads,
  without its error."""
  position = 0
  reader.seek(0)
  while position < size:  # reading on, without seeking: the records follow each other
    header = reader.read(_HEADER_BYTES)
    length = _header_length(header) if len(header) == _HEADER_BYTES else None
    end = position + _HEADER_BYTES + (length or 0) + _FOOTER_BYTES
    if length is None or end > size:
      break
    data = reader.read(length)
    footer = reader.read(_FOOTER_BYTES)
    if len(data) != length or struct.unpack("<I", footer)[0] != _masked_crc(data):
      break
    yield position, data
    position = end
  if position < size:
    yield position, None
