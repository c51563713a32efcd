"""CRI framing and rotation against straightforward reference implementations (hypothesis).

The shim frames a chunk with one bytes.replace and cuts rotated files with
rfind; the references below do it line by line, as the format reads.
"""

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import helpers
from shim import crilog

SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
STAMP = b"1970-01-01T00:00:00.000000000Z"
# Output shaped like output: lines, empty lines, \r, NUL and non-UTF-8 bytes.
PIECES = st.sampled_from([b"\n", b"\n\n", b"\r", b"\r\n", b"x", b"line of text", b" ",
                          b"\x00", b"\xff\xfe", b"F ", b"P ", b"y" * 300])
CHUNK = st.one_of(st.lists(PIECES, max_size=40).map(b"".join), st.binary(max_size=500))
CHUNKS = st.lists(st.tuples(st.sampled_from([b"stdout", b"stderr"]), CHUNK), max_size=12)


def reference_records(stream, data):
    """Frame one chunk line by line: F for each line ended by \\n, P for a tail without one."""
    records = []
    line = b""
    for byte in data:
        if byte == ord("\n"):
            records.append(STAMP + b" " + stream + b" F " + line + b"\n")
            line = b""
        else:
            line += bytes([byte])
    if line:
        records.append(STAMP + b" " + stream + b" P " + line + b"\n")
    return records


def reference_files(chunks, max_size):
    """Lay the records into files as the rotation rule says; return their contents, oldest first."""
    files = [b""]
    for stream, data in chunks:
        for record in reference_records(stream, data):
            if files[-1] and len(files[-1]) + len(record) > max_size:
                files.append(b"")
            files[-1] += record
    return files


Messages = helpers.Messages
read = helpers.read_bytes


@SETTINGS
@given(st.sampled_from([b"stdout", b"stderr"]), CHUNK)
@example(b"stdout", b"a\nb\nc\n")  # a chunk ending exactly at a newline: F records only
@example(b"stdout", b"a\nb\npartial")  # several lines and a partial tail
@example(b"stderr", b"\r\n\r")  # \r is text, only \n ends a line
@example(b"stdout", b"\n")
@example(b"stdout", b"")
def test_frame_chunk_equals_the_line_by_line_reference(stream, data):
    parts = crilog.frame_chunk(stream, data, STAMP)
    assert b"".join(parts) == b"".join(reference_records(stream, data))
    assert b"".join(crilog.frame_records(stream, data, STAMP)) == b"".join(parts)


@SETTINGS
@given(CHUNKS)
def test_writer_keeps_every_byte_and_joins_partial_lines_across_chunks(tmp_path, chunks):
    path = str(tmp_path / "output.log")
    if os.path.exists(path):
        os.unlink(path)  # hypothesis reuses tmp_path across examples
    writer = crilog.LogWriter(path, Messages())
    for stream, data in chunks:
        writer.write_chunk(stream, data, now_ns=0)
    writer.close()
    assert read(path) == b"".join(reference_files(chunks, float("inf")))
    for stream in (b"stdout", b"stderr"):  # a reader joining P records gets the stream back
        text = bytearray()
        for line in read(path).split(b"\n")[:-1]:
            _ts, got, tag, rest = line.split(b" ", 3)
            if got == stream:
                text += rest + (b"\n" if tag == b"F" else b"")
        assert bytes(text) == b"".join(data for s, data in chunks if s == stream)


@SETTINGS
@given(CHUNKS, st.integers(min_value=40, max_value=700))
@example([(b"stdout", b"a\n" * 30)], 100)  # one chunk over several files
@example([(b"stdout", b"a\na\na\n")], 84)  # 42-byte records: two fill a file exactly
@example([(b"stdout", b"a\na\na\n")], 83)  # ... and one byte less holds only one
@example([(b"stdout", b"short\n" + b"x" * 200 + b"\n" + b"b\n")], 60)  # a record over max_size
def test_rotation_cuts_between_records_as_the_reference(tmp_path, chunks, max_size):
    for name in os.listdir(tmp_path):
        os.unlink(tmp_path / name)
    path = str(tmp_path / "output.log")
    writer = crilog.LogWriter(path, Messages(), max_size=max_size, max_files=10**6)
    for stream, data in chunks:
        writer.write_chunk(stream, data, now_ns=0)
    writer.close()
    rotated = [read(f"{path}.{n}") for n in range(1, writer.rotations + 1)]
    assert rotated + [read(path)] == reference_files(chunks, max_size)
    assert len(os.listdir(tmp_path)) == writer.rotations + 1


def test_rotation_that_cannot_reopen_counts_every_record_dropped_and_ends(tmp_path):
    # The cut loop must end even when no file can be opened any more.
    messages = Messages()
    log_dir = tmp_path / "d"
    log_dir.mkdir()
    path = str(log_dir / "output.log")
    writer = crilog.LogWriter(path, messages, max_size=100, max_files=2)
    writer.write_chunk(b"stdout", b"a" * 10 + b"\n", now_ns=0)  # a 41-byte record
    os.unlink(path)
    os.rmdir(log_dir)  # rotation's rename and reopen fail from here on
    records = reference_records(b"stdout", b"".join(b"line %03d\n" % i for i in range(40)))
    writer.write_chunk(b"stdout", b"".join(b"line %03d\n" % i for i in range(40)), now_ns=0)
    writer.close()
    # The first 49-byte record still fits the open (deleted) file; the rest is dropped.
    assert writer.dropped_bytes == len(b"".join(records[1:]))
    assert any("output dropped" in m[1] for m in messages)
