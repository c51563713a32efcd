"""The output pump on real pipes, a PTY and a FIFO: paced reads keep every byte in order.

While output streams in, the pump leaves epoll and reads again after a pause;
small output (a prompt) and an idle stream go back to epoll at once.
"""

import os
import types

import pytest

from shim import crilog, loop, stdio


class Messages(list):
    def __call__(self, level, msg, **fields):
        self.append((level, msg, fields))


def stdout_bytes(path):
    """Reassemble stdout from a CRI log (P records join the next)."""
    out = bytearray()
    with open(path, "rb") as f:
        for line in f.read().split(b"\n")[:-1]:
            _ts, _stream, tag, text = line.split(b" ", 3)
            out += text + (b"\n" if tag == b"F" else b"")
    return bytes(out)


@pytest.fixture
def rig(tmp_path):
    """A loop, a 1 MiB pipe and a pump logging its read end to output.log (FIFO: no reader)."""
    messages = Messages()
    ev = loop.Loop(messages)
    read_fd, write_fd = os.pipe()
    stdio.grow_pipe(read_fd)
    log_path = str(tmp_path / "output.log")
    writer = crilog.LogWriter(log_path, messages)
    fifo_path = str(tmp_path / "stdout")
    stdio.make_fifo(fifo_path)
    fifo = stdio.FifoWriter(ev, fifo_path, messages)
    pump = stdio.OutputPump(ev, b"stdout", read_fd, writer, fifo)
    rig = types.SimpleNamespace(loop=ev, pump=pump, write_fd=write_fd, log_path=log_path,
                                fifo=fifo, fifo_path=fifo_path, messages=messages)
    yield rig
    pump.close()
    fifo.disconnect()
    if rig.write_fd is not None:
        os.close(rig.write_fd)
    writer.close()
    ev.close()


def test_a_prompt_is_logged_at_once_and_the_pump_stays_on_epoll(rig):
    os.write(rig.write_fd, b"$ ")
    assert rig.loop.run_until(lambda: rig.pump.bytes_read == 2, timeout=5)
    assert not rig.pump.lingering
    assert stdout_bytes(rig.log_path) == b"$ "


def test_streaming_output_pauses_reads_then_an_idle_stream_returns_to_epoll(rig):
    lines = (b"x" * 99 + b"\n") * 41
    os.write(rig.write_fd, lines)  # 4 kB at once: output is streaming
    assert rig.loop.run_until(lambda: rig.pump.bytes_read, timeout=5)
    assert rig.pump.lingering  # off epoll: a timer reads next
    assert rig.loop.run_until(lambda: not rig.pump.lingering, timeout=5)  # found nothing
    os.write(rig.write_fd, b"more\n")
    assert rig.loop.run_until(lambda: rig.pump.bytes_read == len(lines) + 5, timeout=5)
    assert stdout_bytes(rig.log_path) == lines + b"more\n"


def test_eof_while_pausing_closes_the_stream_with_every_byte_logged(rig):
    os.write(rig.write_fd, b"a" * 5000)
    assert rig.loop.run_until(lambda: rig.pump.bytes_read, timeout=5)
    assert rig.pump.lingering
    os.write(rig.write_fd, b"tail")
    os.close(rig.write_fd)
    rig.write_fd = None
    assert rig.loop.run_until(lambda: not rig.pump.open, timeout=5)
    assert stdout_bytes(rig.log_path) == b"a" * 5000 + b"tail"


def test_a_pump_behind_a_full_pipe_reads_on_without_pausing(rig):
    data = b"".join(b"%07d\n" % i for i in range(100_000))  # 800 kB: more than one wake-up takes
    os.write(rig.write_fd, data)
    rig.loop.run_once(5)
    assert rig.pump.bytes_read < len(data) and not rig.pump.lingering  # behind: epoll again
    assert rig.loop.run_until(lambda: rig.pump.bytes_read == len(data), timeout=5)
    assert stdout_bytes(rig.log_path) == data


def test_a_reader_that_keeps_up_gets_every_byte_in_order(rig):
    reader_fd = os.open(rig.fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sent, got = bytearray(), bytearray()
        for i in range(60):  # bursts that each take a paced read
            burst = b"%05d " % i * 700 + b"\n"
            os.write(rig.write_fd, burst)
            sent += burst
            assert rig.loop.run_until(lambda: rig.pump.bytes_read == len(sent), timeout=5)
            while True:
                try:
                    chunk = os.read(reader_fd, 1 << 20)
                except BlockingIOError:
                    break
                got += chunk
            rig.loop.run_once(0)  # let the FIFO writer flush what it queued
        assert got == sent and rig.fifo.dropped_bytes == 0
        assert stdout_bytes(rig.log_path) == bytes(sent)
    finally:
        os.close(reader_fd)


def test_a_pty_is_read_as_it_comes_without_pausing(tmp_path):
    ev = loop.Loop(Messages())
    main_fd, worker_fd = os.openpty()
    writer = crilog.LogWriter(str(tmp_path / "output.log"), Messages())
    pump = stdio.OutputPump(ev, b"stdout", main_fd, writer, None)
    try:
        os.write(worker_fd, b"y" * 3000)  # a PTY hands out at most ~4 KiB a read
        assert ev.run_until(lambda: pump.bytes_read >= 3000, timeout=5)
        assert not pump.lingering
    finally:
        os.close(worker_fd)
        pump.close()
        writer.close()
        ev.close()


def test_a_timer_after_close_does_nothing(rig):
    os.write(rig.write_fd, b"b" * 5000)
    assert rig.loop.run_until(lambda: rig.pump.lingering, timeout=5)
    rig.pump.close()  # the shim closes its pumps at exit, a timer may still be pending
    assert not rig.loop.run_until(lambda: rig.messages, timeout=0.05)  # no failed callback
    assert not rig.pump.open
