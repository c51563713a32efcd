"""A small protobuf (proto3) wire codec: messages are field-number tables, values dicts.

Written from the wire format (varint, 64-bit, length-delimited, 32-bit
records, each keyed by `field_number << 3 | wire_type`), not generated: the
shim needs ~40 small messages, and the `protobuf` runtime costs the serving
process more import time and memory than this module (docs/containerd.md).

A message type is a `Message(name, fields)`, each field a
`(number, name, kind)` or `(number, name, kind, Message)` tuple; a kind ending
in `*` is repeated, and `map` is a map<string, string>. Decoding returns a
dict holding every field (proto3 defaults for absent ones), skips unknown
fields, and raises WireError for malformed input. Encoding omits default
values, as proto3 does.
"""

import struct

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
MASK64 = (1 << 64) - 1

# kind -> (wire type, default)
SCALARS = {
    "string": (LENGTH, ""), "bytes": (LENGTH, b""), "bool": (VARINT, False),
    "uint32": (VARINT, 0), "uint64": (VARINT, 0), "int32": (VARINT, 0), "int64": (VARINT, 0),
    "enum": (VARINT, 0), "fixed64": (FIXED64, 0), "fixed32": (FIXED32, 0),
}


class WireError(ValueError):
    """Bytes that are not a valid encoding of the message."""


class Message:
    """A message type: its name and its field table."""

    def __init__(self, name, fields):
        self.name = name
        self.by_number = {}
        self.by_name = {}
        for entry in fields:
            number, fname, kind = entry[:3]
            sub = entry[3] if len(entry) > 3 else None
            field = Field(number, fname, kind, sub)
            self.by_number[number] = field
            self.by_name[fname] = field

    def __repr__(self):
        return f"Message({self.name})"

    def encode(self, values):
        """Return the wire bytes of VALUES (a dict; missing keys are defaults)."""
        out = bytearray()
        for fname, value in values.items():
            field = self.by_name.get(fname)
            if field is None:
                raise KeyError(f"{self.name} has no field {fname}")
            field.encode(out, value)
        return bytes(out)

    def decode(self, data):
        """Return the dict of the message in DATA."""
        values = {f.name: f.default() for f in self.by_number.values()}
        pos, end = 0, len(data)
        while pos < end:
            key, pos = read_varint(data, pos)
            number, wtype = key >> 3, key & 7
            field = self.by_number.get(number)
            if field is None or number == 0:
                if number == 0:
                    raise WireError(f"{self.name}: field number 0")
                pos = skip(data, pos, wtype)
                continue
            pos = field.decode_into(values, data, pos, wtype)
        return values


class Field:
    """One field of a message."""

    def __init__(self, number, name, kind, sub):
        self.number = number
        self.name = name
        self.repeated = kind.endswith("*")
        self.kind = kind.rstrip("*")
        self.sub = sub
        if self.kind == "message":
            self.wtype = LENGTH
        elif self.kind == "map":
            self.wtype = LENGTH
            self.repeated = False
        else:
            self.wtype = SCALARS[self.kind][0]
        self.key = number << 3 | self.wtype

    def default(self):
        if self.repeated:
            return []
        if self.kind == "map":
            return {}
        if self.kind == "message":
            return None
        return SCALARS[self.kind][1]

    def encode(self, out, value):
        if self.kind == "map":
            for k, v in value.items():
                entry = bytearray()
                write_bytes(entry, 1 << 3 | LENGTH, k.encode())
                write_bytes(entry, 2 << 3 | LENGTH, v.encode())
                write_bytes(out, self.key, entry)
            return
        if self.repeated:
            if value and self.wtype == VARINT:
                packed = bytearray()
                for item in value:
                    write_varint(packed, self._int(item))
                write_bytes(out, self.number << 3 | LENGTH, packed)
                return
            for item in value:
                self.encode_one(out, item, always=True)
            return
        self.encode_one(out, value, always=False)

    def encode_one(self, out, value, always):
        kind = self.kind
        if kind == "message":
            if value is not None:
                body = value if isinstance(value, (bytes, bytearray)) else self.sub.encode(value)
                write_bytes(out, self.key, body)
        elif kind in ("string", "bytes"):
            if value or always:
                write_bytes(out, self.key, value.encode() if kind == "string" else value)
        elif self.wtype == VARINT:
            if value or always:
                write_varint(out, self.key)
                write_varint(out, self._int(value))
        elif value or always:
            write_varint(out, self.key)
            out += struct.pack("<Q" if self.wtype == FIXED64 else "<I", value)

    def _int(self, value):
        value = int(value)
        if value < 0:
            if self.kind not in ("int32", "int64", "enum"):
                raise ValueError(f"{self.name}: negative value for {self.kind}")
            value &= MASK64
        return value

    def decode_into(self, values, data, pos, wtype):
        if self.repeated and self.wtype == VARINT and wtype == LENGTH:
            chunk, pos = read_bytes(data, pos)
            cpos = 0
            while cpos < len(chunk):
                item, cpos = read_varint(chunk, cpos)
                values[self.name].append(self._from_varint(item))
            return pos
        if wtype != self.wtype:
            raise WireError(f"field {self.name}: wire type {wtype}, expected {self.wtype}")
        value, pos = self.decode_one(data, pos)
        if self.kind == "map":
            entry = MAP_ENTRY.decode(value)
            values[self.name][entry["key"]] = entry["value"]
        elif self.repeated:
            values[self.name].append(value)
        else:
            values[self.name] = value
        return pos

    def decode_one(self, data, pos):
        kind = self.kind
        if self.wtype == LENGTH:
            raw, pos = read_bytes(data, pos)
            if kind == "string":
                try:
                    return raw.decode(), pos
                except UnicodeDecodeError as err:
                    raise WireError(f"field {self.name}: invalid UTF-8") from err
            if kind == "message":
                return self.sub.decode(raw), pos
            return bytes(raw), pos
        if self.wtype == VARINT:
            raw, pos = read_varint(data, pos)
            return self._from_varint(raw), pos
        size = 8 if self.wtype == FIXED64 else 4
        if pos + size > len(data):
            raise WireError(f"field {self.name}: truncated")
        return struct.unpack_from("<Q" if size == 8 else "<I", data, pos)[0], pos + size

    def _from_varint(self, raw):
        kind = self.kind
        if kind == "bool":
            return raw != 0
        if kind in ("int64", "int32", "enum") and raw >> 63:
            return raw - (1 << 64)
        if kind in ("uint32", "int32"):
            return raw & 0xFFFFFFFF if kind == "uint32" else raw
        return raw


MAP_ENTRY = Message("MapEntry", [(1, "key", "string"), (2, "value", "string")])


def write_varint(out, value):
    """Append VALUE (0 <= VALUE < 2**64) as a varint to the bytearray OUT."""
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def write_bytes(out, key, body):
    """Append a length-delimited record KEY, len(BODY), BODY to OUT."""
    write_varint(out, key)
    write_varint(out, len(body))
    out += body


def read_varint(data, pos):
    """Return (value, next position) of the varint at DATA[POS]."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & MASK64, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def read_bytes(data, pos):
    """Return (bytes, next position) of the length-delimited value at DATA[POS]."""
    size, pos = read_varint(data, pos)
    end = pos + size
    if end > len(data):
        raise WireError("truncated length-delimited field")
    return data[pos:end], end


def skip(data, pos, wtype):
    """Return the position after the value of an unknown field of type WTYPE."""
    if wtype == VARINT:
        return read_varint(data, pos)[1]
    if wtype == LENGTH:
        return read_bytes(data, pos)[1]
    size = {FIXED64: 8, FIXED32: 4}.get(wtype)
    if size is None:
        raise WireError(f"unsupported wire type {wtype}")
    if pos + size > len(data):
        raise WireError("truncated fixed field")
    return pos + size
