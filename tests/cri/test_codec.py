"""The codec written here (wire.py, crilog.py), without containerd: known bytes both ways."""

import pytest

from . import crilog, messages, wire

VARINTS = [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"),
           (300, b"\xac\x02"), (-1, b"\xff" * 9 + b"\x01")]


@pytest.mark.parametrize("value,data", VARINTS)
def test_varint_both_ways(value, data):
    assert wire.encode_varint(value) == data
    decoded, end = wire.decode_varint(data, 0)
    assert end == len(data)
    assert decoded == value & (1 << 64) - 1


def test_truncated_varint_is_an_error():
    with pytest.raises(ValueError, match="truncated"):
        wire.decode_varint(b"\x80", 0)


def test_request_bytes_as_protoc_writes_them():
    # field 1 (string "abc"), field 2 (int64 5): 0a 03 'abc' 10 05
    data = wire.encode(messages.STOP_CONTAINER_REQUEST, {"container_id": "abc", "timeout": 5})
    assert data == b"\x0a\x03abc\x10\x05"


def test_nested_map_and_repeated_round_trip():
    config = {"metadata": {"name": "c", "attempt": 2}, "command": ["sh", "-c", "exit 3"],
              "labels": {"b": "2", "a": "1"}, "envs": [{"key": "K", "value": "V"}],
              "linux": {"resources": {"memory_limit_in_bytes": 16 << 20}}}
    data = wire.encode(messages.CONTAINER_CONFIG, config)
    decoded = wire.decode(messages.CONTAINER_CONFIG, data)
    assert decoded["metadata"] == {"name": "c", "attempt": 2}
    assert decoded["command"] == ["sh", "-c", "exit 3"]
    assert decoded["labels"] == {"a": "1", "b": "2"}
    assert decoded["envs"] == [{"key": "K", "value": "V"}]
    assert decoded["linux"]["resources"]["memory_limit_in_bytes"] == 16 << 20
    assert decoded["working_dir"] == "" and decoded["tty"] is False


def test_negative_int32_and_defaults():
    data = wire.encode(messages.EXEC_SYNC_RESPONSE, {"exit_code": -2, "stdout": b"x"})
    assert wire.decode(messages.EXEC_SYNC_RESPONSE, data) == {
        "stdout": b"x", "stderr": b"", "exit_code": -2}


def test_unknown_fields_are_skipped():
    # field 99 as a varint, field 100 as bytes, field 101 as fixed64, then field 1.
    data = (wire.encode_varint(99 << 3) + b"\x07" + wire.encode_varint(100 << 3 | 2) + b"\x02hi"
            + wire.encode_varint(101 << 3 | 1) + b"\x00" * 8 + b"\x0a\x02id")
    assert wire.decode(messages.CONTAINER_ID, data) == {"container_id": "id"}


def test_packed_repeated_scalars_decode():
    schema = wire.Schema("T", {"n": (1, wire.Repeated("int64"))})
    assert wire.decode(schema, b"\x0a\x03\x01\x02\x03")["n"] == [1, 2, 3]


def test_unknown_field_name_is_refused():
    with pytest.raises(KeyError, match="no field 'nope'"):
        wire.encode(messages.CONTAINER_ID, {"nope": 1})


def test_cri_log_lines_parse_and_partials_join():
    data = (b"2026-12-02T12:28:28.299656384Z stdout P abc\n"
            b"2026-12-02T12:28:28.3Z stdout F def\n"
            b"2026-12-02T12:28:28.4+00:00 stderr F e r r\n")
    entries = crilog.parse(data)
    assert entries[0][0] == 1796214508299656384
    assert entries[1][0] == 1796214508300000000
    assert crilog.reassemble(entries) == {"stdout": [b"abcdef"], "stderr": [b"e r r"]}


def test_malformed_log_line_is_an_error():
    with pytest.raises(ValueError, match="not a CRI log line"):
        crilog.parse(b"2026-12-02T12:28:28Z stdout X text\n")
