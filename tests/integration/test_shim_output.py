"""Container stdio through the shim: CRI log, output FIFOs, stdin FIFO, rotation."""

import os
import subprocess
import time

import pytest

import helpers
import shimutil
from shim.contract import layout


def test_both_streams_partial_lines_and_binary_data(root, make_bundle):
    script = ("printf 'line1\\nno-newline'; printf 'e1\\ne2\\n' >&2; "
              "printf '\\000\\377\\001bin\\n'; printf 'tail' >&2")
    started = shimutil.start_shim(root, make_bundle(["sh", "-c", script]), "c", "--start")
    assert shimutil.finish(started)["exit_code"] == 0
    log = shimutil.output_log(started)
    assert helpers.log_bytes(log, "stdout") == b"line1\nno-newline\x00\xff\x01bin\n"
    assert helpers.log_bytes(log, "stderr") == b"e1\ne2\ntail"
    records = helpers.read_log_records(log)
    assert ("stdout", "P", b"no-newline") in records or \
        ("stdout", "F", b"no-newline\x00\xff\x01bin") in records
    assert records[-1][1] == "P" or ("stderr", "P", b"tail") in records


def test_writer_with_no_reader_does_not_block(root, make_bundle):
    # 10 MB with nobody attached: the shim drains the pipe into output.log.
    bundle = make_bundle(["sh", "-c", "head -c 10000000 /dev/zero | tr '\\000' x; echo done"])
    started = shimutil.start_shim(root, bundle, "c", "--start")
    assert shimutil.finish(started, timeout=60)["exit_code"] == 0
    out = helpers.log_bytes(shimutil.output_log(started), "stdout")
    assert out == b"x" * 10_000_000 + b"done\n"


def test_reader_attached_before_start_sees_every_byte_in_order(root, make_bundle):
    bundle = make_bundle(["seq", "1", "300000"])
    started = shimutil.start_shim(root, bundle, "c")
    fd = shimutil.open_fifo_reader(started.path("stdout"))
    try:
        shimutil.runc(root, "start", "c")
        data = shimutil.read_fifo_to_eof(fd)
    finally:
        os.close(fd)
    expected = b"".join(b"%d\n" % i for i in range(1, 300001))
    assert data == expected
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == expected


def test_stdin_from_the_fifo(root, make_bundle):
    bundle = make_bundle(["sh", "-c", "read a; read b; echo got:$a:$b"])
    started = shimutil.start_shim(root, bundle, "c", "--start", "--stdin")
    shimutil.write_stdin(started, b"hello\n")  # writers come and go: no EOF in between
    shimutil.write_stdin(started, b"world\n")
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"got:hello:world\n"


def test_close_stdin_gives_eof(root, make_bundle):
    bundle = make_bundle(["sh", "-c", "cat; echo cat-ended"])
    started = shimutil.start_shim(root, bundle, "c", "--start", "--stdin")
    shimutil.write_stdin(started, b"abc\n")
    helpers.wait_until(lambda: shimutil.log_contains(started, b"abc\n"), what="cat echoed")
    assert shimutil.runc_status(root, "c") == "running"  # no EOF yet: we hold a writer
    shimutil.write_control(started, {"close_stdin": True})
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"abc\ncat-ended\n"


def test_without_stdin_flag_the_container_reads_dev_null(root, make_bundle):
    bundle = make_bundle(["sh", "-c", "cat; echo eof"])
    started = shimutil.start_shim(root, bundle, "c", "--start")
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"eof\n"
    assert not os.path.exists(started.path("stdin"))


def test_rotation_keeps_whole_records_and_max_files(root, make_bundle):
    # 400 lines of 49 bytes + newline; records are ~91 bytes, so 1000 bytes hold ~10.
    script = "i=0; while [ $i -lt 400 ]; do printf '%049d\\n' $i; i=$((i+1)); done"
    bundle = make_bundle(["sh", "-c", script])
    started = shimutil.start_shim(root, bundle, "c", "--start",
                                  "--log-max-size", "1000", "--log-max-files", "2")
    assert shimutil.finish(started)["exit_code"] == 0
    rotated = sorted((n for n in os.listdir(started.proc_dir) if n.startswith("output.log.")),
                     key=lambda n: int(n.rsplit(".", 1)[1]))
    assert len(rotated) == 2 and int(rotated[0].rsplit(".", 1)[1]) > 1  # older ones expired
    text = b""
    for name in rotated + ["output.log"]:
        path = started.path(name)
        assert 0 < os.path.getsize(path) <= 1000
        text += helpers.log_bytes(path, "stdout")  # parses every record: none split
    lines = text.split(b"\n")[:-1]
    numbers = [int(line) for line in lines]
    assert numbers == list(range(numbers[0], 400)) and numbers[0] > 0


def test_a_slow_reader_does_not_stall_the_container(root, make_bundle):
    # The reader holds the FIFO but never reads: the shim queues at most 1 MiB.
    bundle = make_bundle(["sh", "-c", "head -c 5000000 /dev/zero; echo end"])
    started = shimutil.start_shim(root, bundle, "c")
    fd = shimutil.open_fifo_reader(started.path("stdout"))
    try:
        shimutil.runc(root, "start", "c")
        status = shimutil.wait_exit_status(started.proc_dir, 60)
    finally:
        os.close(fd)
    shimutil.wait_shim_gone(started.shim_pid)
    assert status["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout").endswith(b"end\n")
    assert os.path.getsize(shimutil.output_log(started)) > 5_000_000


def test_output_log_timestamps_are_rfc3339_nano_and_ordered(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(["sh", "-c", "echo a; echo b >&2; echo c"]),
                                  "c", "--start")
    shimutil.finish(started)
    with open(shimutil.output_log(started), "rb") as f:
        stamps = [layout.parse_time(line.split(b" ", 1)[0].decode()) for line in f]
    assert len(stamps) == 3 and stamps == sorted(stamps)
    assert abs(stamps[0] - time.time_ns()) < 60 * 10**9


def blocked_reading_stdin(pid):
    """Return True if PID sits in read(0, ...) or poll (busybox `read`), per /proc/PID/syscall."""
    with open(f"/proc/{pid}/syscall") as f:
        fields = f.read().split()
    return fields[:2] == ["0", "0x0"] or fields[:1] == ["7"]


def test_full_disk_drops_output_but_never_blocks_or_corrupts(root, make_bundle, tmp):
    # The process directory lives on a 1 MiB tmpfs; a filler leaves ~100 kB free.
    mnt = os.path.join(tmp, "small")
    os.mkdir(mnt)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.strip()}")
    try:
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (900 << 10))
        proc_dir = os.path.join(mnt, "init")
        argv = shimutil.SHIM + ["--id", "c", "--bundle", make_bundle(
            ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\000' z; echo; read x; echo after"]),
            "--state-dir", proc_dir, "--runtime-root", os.path.join(root, "runc"),
            "--start", "--stdin"]
        # --start: `runc run -d`, the container writes at once; the shim reads its
        # output only once pid and starttime are written, so the full disk meets
        # the output, never the shim's start-up.
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        started = shimutil.Started(proc, proc_dir)
        # The 3 MB could not all be logged, yet the container went on to `read` stdin.
        helpers.wait_until(lambda: blocked_reading_stdin(started.pid), 30,
                           what="the container to wait for input")
        os.unlink(filler)
        shimutil.write_stdin(started, b"go\n")
        status = shimutil.finish(started)
        assert status["exit_code"] == 0
        out = helpers.log_bytes(shimutil.output_log(started), "stdout")  # parses: no torn record
        assert out.endswith(b"after\n") and len(out) < 3_000_000
        assert shimutil.shim_logged(started, "output dropped")
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)


def test_reader_leaving_midway_changes_nothing_for_the_log(root, make_bundle):
    bundle = make_bundle(["seq", "1", "200000"])
    started = shimutil.start_shim(root, bundle, "c")
    fd = shimutil.open_fifo_reader(started.path("stdout"))
    try:
        shimutil.runc(root, "start", "c")
        helpers.wait_until(lambda: shimutil.log_contains(started, b"\n1000\n"), what="output")
    finally:
        os.close(fd)  # the reader goes away: the shim gets EPIPE and carries on
    assert shimutil.finish(started)["exit_code"] == 0
    expected = b"".join(b"%d\n" % i for i in range(1, 200001))
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == expected


def test_bad_control_lines_are_logged_not_fatal(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(["sh", "-c", "cat; echo ok"]), "c",
                                  "--start", "--stdin")
    fd = os.open(started.path("control"), os.O_WRONLY)
    try:
        os.write(fd, b'garbage\n{"resize": [80, 24]}\n{"start": true}\n{"close_stdin": true}\n')
    finally:
        os.close(fd)
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"ok\n"
    assert shimutil.shim_logged(started, "control line b'garbage' refused")
    assert shimutil.shim_logged(started, "resize: the process has no terminal")
    assert shimutil.shim_logged(started, "control command 'start' not supported here")


def test_streamed_output_is_logged_and_sent_while_the_container_still_runs(root, make_bundle):
    # Paced reads (the shim waits between reads of streaming output) must never
    # hold output back: the burst and the line after it arrive before any exit.
    script = "head -c 3000000 /dev/zero | tr '\\000' y; echo; echo burst-done; read x"
    started = shimutil.start_shim(root, make_bundle(["sh", "-c", script]), "c", "--stdin")
    fd = shimutil.open_fifo_reader(started.path("stdout"))
    try:
        shimutil.runc(root, "start", "c")
        got = bytearray()

        def reader_has_all():
            try:
                got.extend(os.read(fd, 1 << 20))
            except BlockingIOError:
                pass
            return got.endswith(b"burst-done\n")

        helpers.wait_until(reader_has_all, 30, what="the burst through the stdout FIFO")
        helpers.wait_until(lambda: shimutil.log_contains(started, b"\nburst-done\n"), 30,
                           what="the burst in output.log")
        assert shimutil.runc_status(root, "c") == "running"
        assert bytes(got) == b"y" * 3_000_000 + b"\nburst-done\n"
    finally:
        os.close(fd)
    shimutil.write_stdin(started, b"\n")
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == \
        b"y" * 3_000_000 + b"\nburst-done\n"
