"""The selectors loop: readers, writers, timers, a failing callback."""

import os

import pytest

from shim import loop


@pytest.fixture
def pipe():
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    os.close(read_fd)
    os.close(write_fd)


def test_reader_and_failing_callback_is_dropped(pipe):
    messages = []
    ev = loop.Loop(lambda level, msg, **f: messages.append((level, msg)))
    read_fd, write_fd = pipe
    got = []
    ev.add_reader(read_fd, lambda: got.append(os.read(read_fd, 10)))
    os.write(write_fd, b"hi")
    assert ev.run_until(lambda: got, timeout=5)
    assert got == [b"hi"]

    def broken():
        raise RuntimeError("boom")

    ev.add_reader(read_fd, broken)
    os.write(write_fd, b"x")
    ev.run_once(1)
    assert messages and "boom" in messages[0][1]
    assert not ev.run_until(lambda: False, timeout=0.05)  # fd dropped: no busy loop
    ev.close()


def test_reader_and_writer_on_one_fd(pipe):
    ev = loop.Loop(lambda *a, **k: None)
    _read_fd, write_fd = pipe
    calls = []
    ev.add_writer(write_fd, lambda: calls.append("w"))
    ev.add_reader(write_fd, lambda: calls.append("r"))  # never readable: a write end
    ev.run_once(1)
    assert calls == ["w"]
    ev.remove_writer(write_fd)
    ev.remove_reader(write_fd)
    assert not ev.run_until(lambda: len(calls) > 1, timeout=0.05)
    ev.close()
