"""The selectors loop: readers, writers, timers, a failing callback."""

import os
import time

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


def test_call_later_runs_once_after_its_delay():
    ev = loop.Loop(lambda *a, **k: None)
    calls = []
    t0 = time.monotonic()
    ev.call_later(0.02, lambda: calls.append(time.monotonic()))
    assert ev.run_until(lambda: calls, timeout=5)  # no fd at all: the timer bounds the wait
    assert calls[0] - t0 >= 0.02
    assert not ev.run_until(lambda: len(calls) > 1, timeout=0.05)  # once only
    ev.close()


def test_timers_added_by_a_timer_wait_for_their_own_delay():
    ev = loop.Loop(lambda *a, **k: None)
    calls = []

    def again():
        calls.append("t")
        if len(calls) < 3:
            ev.call_later(0, again)

    ev.call_later(0, again)
    ev.run_once(1)
    assert calls == ["t"]  # the one it added runs in the next round, not this one
    assert ev.run_until(lambda: len(calls) == 3, timeout=5)
    ev.close()


def test_a_failing_timer_is_logged_and_the_loop_goes_on(pipe):
    messages = []
    ev = loop.Loop(lambda level, msg, **f: messages.append((level, msg)))

    def broken():
        raise RuntimeError("timer boom")

    ev.call_later(0, broken)
    read_fd, write_fd = pipe
    got = []
    ev.add_reader(read_fd, lambda: got.append(os.read(read_fd, 10)))
    os.write(write_fd, b"x")
    assert ev.run_until(lambda: got and messages, timeout=5)
    assert "timer boom" in messages[0][1]
    ev.close()
