"""CRI log parsing and reading across rotated files."""

import os

import pytest

from shim.contract import layout
from manager.core import output


@pytest.mark.parametrize("line, expected", [
    (b"2026-11-23T00:33:29.123456789Z stdout F hello world",
     ("2026-11-23T00:33:29.123456789Z", "stdout", False, b"hello world")),
    (b"2026-11-23T00:33:29.1Z stderr P part", ("2026-11-23T00:33:29.1Z", "stderr", True, b"part")),
    (b"2026-11-23T00:33:29Z stdout F ", ("2026-11-23T00:33:29Z", "stdout", False, b"")),
    (b"2026-11-23T00:33:29Z stdout F", ("2026-11-23T00:33:29Z", "stdout", False, b"")),
    (b"2026-11-23T00:33:29Z stdout F  two  spaces ",
     ("2026-11-23T00:33:29Z", "stdout", False, b" two  spaces ")),
])
def test_parse_record(line, expected):
    record = output.parse_record(line)
    assert (record.time, record.stream, record.partial, record.data) == expected


@pytest.mark.parametrize("line", [
    b"", b"garbage", b"2026-11-23T00:33:29Z stdin F x", b"2026-11-23T00:33:29Z stdout X x",
    b"yesterday stdout F x", b"\xff\xfe stdout F x",
])
def test_parse_record_refuses(line):
    assert output.parse_record(line) is None


def test_payload_joins_partial_records():
    parts = [output.parse_record(b"2026-11-23T00:00:00Z stdout P ab"),
             output.parse_record(b"2026-11-23T00:00:00Z stdout F cd")]
    assert b"".join(r.payload() for r in parts) == b"abcd\n"


def test_split_lines_keeps_partial_tail():
    records, rest = output.split_lines(b"2026-11-23T00:00:00Z stdout F a\n2026-11-23T00:0")
    assert [r.data for r in records] == [b"a"] and rest == b"2026-11-23T00:0"


def write(path, *texts):
    with open(path, "ab") as f:
        for text in texts:
            f.write(b"2026-11-23T00:00:%02dZ stdout F %s\n" % (len(text), text))


def datas(result):
    records, at_end = result
    assert at_end
    return [r.data for r in records]


def test_cursor_reads_rotated_files_in_order_and_follows_rotation(tmp):
    write(os.path.join(tmp, "output.log.1"), b"a")
    write(os.path.join(tmp, "output.log.2"), b"bb")
    write(os.path.join(tmp, "output.log"), b"ccc")
    cursor = output.LogCursor(tmp)
    assert cursor.open_oldest()
    assert datas(cursor.read_new()) == [b"a", b"bb", b"ccc"]
    write(os.path.join(tmp, "output.log"), b"dddd")
    os.rename(os.path.join(tmp, "output.log"), os.path.join(tmp, "output.log.3"))
    write(os.path.join(tmp, "output.log"), b"eeeee")
    assert datas(cursor.read_new()) == [b"dddd", b"eeeee"]
    cursor.close()


def test_cursor_follows_two_rotations_between_reads(tmp):
    log = os.path.join(tmp, "output.log")
    write(log, b"a")
    cursor = output.LogCursor(tmp)
    assert cursor.open(at_end=False) and datas(cursor.read_new()) == [b"a"]
    write(log, b"b")
    os.rename(log, log + ".1")
    write(log, b"c")
    os.rename(log, log + ".2")
    write(log, b"d")
    assert datas(cursor.read_new()) == [b"b", b"c", b"d"]
    cursor.close()


def test_cursor_whose_file_expired_goes_on_with_the_oldest_kept(tmp):
    log = os.path.join(tmp, "output.log")
    write(log, b"a")
    cursor = output.LogCursor(tmp)
    assert cursor.open(at_end=True)
    os.rename(log, log + ".1")
    write(log, b"b")
    os.rename(log, log + ".2")
    os.unlink(log + ".1")
    write(log, b"c")
    assert datas(cursor.read_new()) == [b"b", b"c"]
    cursor.close()


def test_cursor_waits_between_the_rename_and_the_new_file(tmp):
    log = os.path.join(tmp, "output.log")
    write(log, b"a")
    cursor = output.LogCursor(tmp)
    assert cursor.open(at_end=False) and datas(cursor.read_new()) == [b"a"]
    os.rename(log, log + ".1")
    assert datas(cursor.read_new()) == []
    write(log, b"b")
    assert datas(cursor.read_new()) == [b"b"]
    cursor.close()


def test_cursor_reads_in_bounded_chunks(tmp):
    write(os.path.join(tmp, "output.log"), *[b"x" * 40] * 50)
    cursor = output.LogCursor(tmp)
    cursor.open_oldest()
    first, at_end = cursor.read_new(limit=1000)
    assert not at_end and 0 < len(first) < 50
    rest = []
    while True:
        more, at_end = cursor.read_new(limit=1000)
        rest += more
        if at_end:
            break
    assert len(first) + len(rest) == 50
    cursor.close()


def test_follow_log_tail_keeps_only_the_last_records(tmp):
    import asyncio
    write(os.path.join(tmp, "output.log.1"), b"a", b"bb")
    write(os.path.join(tmp, "output.log"), b"ccc", b"dddd")

    async def collect():
        return [r.data async for r in output.follow_log(tmp, True, lambda: True, None, tail=3)]
    assert asyncio.run(collect()) == [b"bb", b"ccc", b"dddd"]


def test_select_records_since_and_tail():
    records = [output.parse_record(b"2026-11-23T00:00:0%dZ stdout F %d" % (i, i))
               for i in range(5)]
    since = layout.parse_time("2026-11-23T00:00:02Z")
    assert [r.data for r in output.select_records(records, since_ns=since)] == [b"2", b"3", b"4"]
    assert [r.data for r in output.select_records(records, tail=2)] == [b"3", b"4"]
    assert output.select_records(records, tail=0) == []
