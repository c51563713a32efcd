"""CRI log framing, rotation naming and the log writer's boundaries."""

import os

import pytest

import helpers
from shim import crilog

TS = b"2026-11-23T00:33:29.123456789Z"


@pytest.mark.parametrize("data,expected", [
    (b"a\n", [b"F a"]),
    (b"a\nb\n", [b"F a", b"F b"]),
    (b"a\nb", [b"F a", b"P b"]),
    (b"partial", [b"P partial"]),
    (b"\n", [b"F "]),
    (b"\n\n", [b"F ", b"F "]),
    (b"x\x00\xff y\n", [b"F x\x00\xff y"]),
    (b"", []),
])
def test_frame_records(data, expected):
    records = crilog.frame_records(b"stdout", data, TS)
    assert records == [TS + b" stdout " + r + b"\n" for r in expected]


@pytest.mark.parametrize("number,max_files,expected", [
    (1, 1, ("L.1", None)),
    (2, 1, ("L.2", "L.1")),
    (3, 3, ("L.3", None)),
    (7, 3, ("L.7", "L.4")),
])
def test_rotation_plan_counts_up_and_expires_the_oldest(number, max_files, expected):
    assert crilog.rotation_plan("L", number, max_files) == expected


def test_writer_continues_the_numbering_of_existing_rotations(tmp_path):
    for n in (3, 4):
        (tmp_path / f"output.log.{n}").write_bytes(b"")
    path = str(tmp_path / "output.log")
    writer = crilog.LogWriter(path, Messages(), max_size=40, max_files=2)
    writer.write_chunk(b"stdout", b"a\n", now_ns=0)
    writer.write_chunk(b"stdout", b"b\n", now_ns=0)
    writer.close()
    assert sorted(os.listdir(tmp_path)) == ["output.log", "output.log.4", "output.log.5"]


Messages = helpers.Messages
read = helpers.read_bytes


def test_writer_appends_records(tmp_path):
    path = str(tmp_path / "output.log")
    writer = crilog.LogWriter(path, Messages())
    writer.write_chunk(b"stdout", b"one\ntw", now_ns=0)
    writer.write_chunk(b"stderr", b"o\n", now_ns=0)
    writer.close()
    assert read(path).split(b"\n") == [
        b"1970-01-01T00:00:00.000000000Z stdout F one",
        b"1970-01-01T00:00:00.000000000Z stdout P tw",
        b"1970-01-01T00:00:00.000000000Z stderr F o", b""]


def test_writer_rotates_between_records_and_keeps_max_files(tmp_path):
    path = str(tmp_path / "output.log")
    writer = crilog.LogWriter(path, Messages(), max_size=100, max_files=2)
    for i in range(20):
        writer.write_chunk(b"stdout", b"line %02d\n" % i, now_ns=0)
    writer.close()
    names = sorted(os.listdir(tmp_path), key=lambda n: (len(n), n))
    assert len(names) == 3 and names[0] == "output.log"
    lines = []
    for name in names[1:] + names[:1]:
        data = read(str(tmp_path / name))
        assert len(data) <= 100 and data.endswith(b"\n")
        lines += [line.split(b" ", 3)[3] for line in data.splitlines()]
    assert lines == [b"line %02d" % i for i in range(20 - len(lines), 20)]


def test_writer_puts_an_oversized_record_alone(tmp_path):
    path = str(tmp_path / "output.log")
    writer = crilog.LogWriter(path, Messages(), max_size=50, max_files=1)
    writer.write_chunk(b"stdout", b"short\n" + b"x" * 200 + b"\n", now_ns=0)
    writer.close()
    assert read(path + ".1").count(b"\n") == 1
    assert read(path).endswith(b"x" * 200 + b"\n")


def test_writer_survives_a_full_disk(tmp_path):
    # /dev/full fails every write with ENOSPC: drops are counted and logged, never raised.
    messages = Messages()
    writer = crilog.LogWriter("/dev/full", messages)
    for _ in range(3):
        writer.write_chunk(b"stdout", b"data\n", now_ns=0)
    assert writer.dropped_bytes == 3 * len(b"1970-01-01T00:00:00.000000000Z stdout F data\n")
    assert [m[0] for m in messages] == ["error"]
    assert "No space left on device" in messages[0][1]
    writer.close()
    assert messages[-1][2]["dropped_bytes"] == writer.dropped_bytes


def test_the_drop_count_outlives_its_writer(tmp_path):
    # An adopting shim's writer counts on from the SIGKILLed shim's (crilog.DROPPED).
    counter = str(tmp_path / crilog.DROPPED)
    counts = []
    for _ in range(3):
        writer = crilog.LogWriter("/dev/full", Messages(), dropped_path=counter)
        counts.append(writer.dropped_bytes)
        writer.write_chunk(b"stdout", b"data\n", now_ns=0)
        writer.close()
    record = len(b"1970-01-01T00:00:00.000000000Z stdout F data\n")
    assert counts == [0, record, 2 * record]
    assert os.stat(counter).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("data", [
    b"", b"a", b"a\n", b"\n", b"\n\n", b"a\nb", b"a\nb\n", b"\nx", b"x\x00\n\xff",
    b"line\n" * 100 + b"tail", b"z" * 70000,
])
def test_frame_chunk_equals_joined_records(data):
    assert b"".join(crilog.frame_chunk(b"stderr", data, TS)) == \
        b"".join(crilog.frame_records(b"stderr", data, TS))
