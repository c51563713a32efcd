"""Protocol buffers' wire format, as much as the CRI needs: a codec written here.

A message type is a Schema: field name -> (field number, kind). A kind is one of
the scalar names below, another Schema (a nested message), MAP (proto3's
map<string, string>) or Repeated(kind). Messages are plain dicts: encode()
takes one (missing keys and None are left out, as proto3 leaves out defaults),
decode() returns one with every field of the schema present (proto3 defaults
for what the bytes did not carry; None for an absent nested message).
Unknown fields are skipped, so a newer containerd's extra fields do no harm.
"""

import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5
SCALARS = ("string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "enum")
MAP = "map"
DEFAULTS = {"string": "", "bytes": b"", "bool": False}


class Schema(dict):
    """A message type: {field name: (number, kind)}, with a name for errors."""

    def __init__(self, name, fields):
        super().__init__(fields)
        self.name = name
        self.by_number = {number: (field, kind) for field, (number, kind) in fields.items()}


class Repeated:
    """A `repeated` field of KIND."""

    def __init__(self, kind):
        self.kind = kind


MAP_ENTRY = Schema("MapEntry", {"key": (1, "string"), "value": (2, "string")})


def encode_varint(value):
    """Return VALUE (an int, negatives as 64-bit two's complement) as a varint."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data, pos):
    """Return (value, next position) of the varint at DATA[POS]."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("decode varint: truncated message")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise ValueError("decode varint: longer than 10 bytes")


def _key(number, wire_type):
    return encode_varint(number << 3 | wire_type)


def _encode_scalar(kind, value):
    if kind == "string":
        data = value.encode()
        return LEN, encode_varint(len(data)) + data
    if kind == "bytes":
        return LEN, encode_varint(len(value)) + bytes(value)
    return VARINT, encode_varint(int(value))


def _encode_field(number, kind, value):
    if isinstance(kind, Schema):
        data = encode(kind, value)
        return _key(number, LEN) + encode_varint(len(data)) + data
    wire_type, data = _encode_scalar(kind, value)
    return _key(number, wire_type) + data


def encode(schema, message):
    """Return the wire bytes of MESSAGE (a dict) of type SCHEMA."""
    out = bytearray()
    for field, value in message.items():
        if field not in schema:
            raise KeyError(f"encode {schema.name}: no field {field!r}")
        number, kind = schema[field]
        if value is None:
            continue
        if kind == MAP:
            for key in sorted(value):
                out += _encode_field(number, MAP_ENTRY, {"key": key, "value": value[key]})
        elif isinstance(kind, Repeated):
            for item in value:
                out += _encode_field(number, kind.kind, item)
        else:
            out += _encode_field(number, kind, value)
    return bytes(out)


def _default(kind):
    if kind == MAP:
        return {}
    if isinstance(kind, Repeated):
        return []
    if isinstance(kind, Schema):
        return None
    return DEFAULTS.get(kind, 0)


def _signed(value, bits):
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _scalar_from_varint(kind, value):
    if kind == "bool":
        return value != 0
    if kind == "int64":
        return _signed(value, 64)
    if kind == "int32":
        return _signed(value & 0xFFFFFFFF, 32)
    if kind == "uint32":
        return value & 0xFFFFFFFF
    if kind in ("uint64", "enum"):
        return value
    raise ValueError(f"decode: a varint for a {kind} field")


def _read_field(data, pos):
    """Return (number, wire type, value, next position): an int or a bytes slice."""
    key, pos = decode_varint(data, pos)
    number, wire_type = key >> 3, key & 7
    if wire_type == VARINT:
        value, pos = decode_varint(data, pos)
    elif wire_type == LEN:
        size, pos = decode_varint(data, pos)
        if pos + size > len(data):
            raise ValueError("decode: truncated length-delimited field")
        value, pos = data[pos:pos + size], pos + size
    elif wire_type == I64:
        value, pos = struct.unpack_from("<Q", data, pos)[0], pos + 8
    elif wire_type == I32:
        value, pos = struct.unpack_from("<I", data, pos)[0], pos + 4
    else:
        raise ValueError(f"decode: unsupported wire type {wire_type} (field {number})")
    return number, wire_type, value, pos


def _decode_value(kind, wire_type, value):
    """Return the values (a list: packed repeated scalars give several) of one field."""
    if isinstance(kind, Schema):
        return [decode(kind, value)]
    if kind == "string":
        return [bytes(value).decode()]
    if kind == "bytes":
        return [bytes(value)]
    if wire_type == LEN:
        packed, pos, items = bytes(value), 0, []
        while pos < len(packed):
            item, pos = decode_varint(packed, pos)
            items.append(_scalar_from_varint(kind, item))
        return items
    return [_scalar_from_varint(kind, value)]


def decode(schema, data):
    """Return the dict of type SCHEMA that DATA (wire bytes) holds."""
    data = memoryview(data)
    message = {field: _default(kind) for field, (number, kind) in schema.items()}
    pos = 0
    while pos < len(data):
        number, wire_type, value, pos = _read_field(data, pos)
        if number not in schema.by_number:
            continue
        field, kind = schema.by_number[number]
        if kind == MAP:
            entry = decode(MAP_ENTRY, value)
            message[field][entry["key"]] = entry["value"]
        elif isinstance(kind, Repeated):
            message[field].extend(_decode_value(kind.kind, wire_type, value))
        else:
            message[field] = _decode_value(kind, wire_type, value)[-1]
    return message
