"""The manager<->shim contract (shim/contract/): each codec read back by its other side."""

import os
import subprocess

import pytest

import shim.contract
from manager.core import scan
from manager.spawn import launcher
from shim import crilog
from shim.contract import (argv, boot, controlline, frames, layout, logformat, startup,
                           zygotemsg)

ALL_OPTIONS = {"id": "web", "bundle": "/b", "state_dir": "/r/containers/web/e1",
               "runtime": "runc", "runtime_root": "/r/runc", "exec": True, "process": "/p.json",
               "tty": True, "stdin": True, "console_size": (80, 24), "log_max_size": 100,
               "log_max_files": 2, "start": True, "foreground": True, "fork_detach": True,
               "sync_fd": 5, "result_fd": 6}


def test_every_option_parses_back_as_it_was_built():
    assert set(ALL_OPTIONS) == set(argv.ATTRS)
    assert dict(argv.parse_argv(argv.build_argv(ALL_OPTIONS))) == ALL_OPTIONS


def test_the_managers_shim_argv_parses_back():
    built = launcher.shim_argv("web", "/b", "/d", "runc", "/r/runc", tty=True, stdin=True,
                               console_size=[100, 30], process_file="/p", start=True,
                               log={"max_size": 10})
    parsed = dict(argv.parse_argv(built[len(launcher.shim_command()):]))
    assert parsed == {"id": "web", "bundle": "/b", "state_dir": "/d", "runtime": "runc",
                      "runtime_root": "/r/runc", "exec": True, "process": "/p", "tty": True,
                      "stdin": True, "console_size": (100, 30), "start": True,
                      "log_max_size": 10, "log_max_files": 1}


def test_build_argv_refuses_an_unknown_option():
    with pytest.raises(ValueError, match="unknown options"):
        argv.build_argv({"id": "x", "tyy": True})


@pytest.mark.parametrize("args, words", [
    (["--bogus"], "unknown argument"), (["--tty=1"], "takes no value"),
    (["--id"], "needs a value"), (["--sync-fd", "x"], "non-negative integer"),
    (["--console-size", "80"], "COLSxROWS"),
])
def test_parse_argv_refuses(args, words):
    with pytest.raises(argv.ArgvError, match=words):
        list(argv.parse_argv(args))


@pytest.mark.parametrize("command, value, argument", [
    ("resize", [80, 24], (80, 24)), ("close_stdin", True, None), ("start", True, None),
])
def test_control_lines_decode_as_encoded(command, value, argument):
    line = controlline.encode(command, value)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert controlline.decode(line) == (command, argument)


@pytest.mark.parametrize("command, value", [
    ("resize", [0, 24]), ("resize", [80]), ("start", False), ("bogus", True),
])
def test_control_lines_are_not_encoded_wrong(command, value):
    with pytest.raises(ValueError):
        controlline.encode(command, value)


@pytest.mark.parametrize("result", [startup.success(10, 11), startup.failure("no", 127)])
def test_the_result_line_decodes_as_sent(result):
    read_fd, write_fd = os.pipe()
    startup.send_result([write_fd], result)
    with os.fdopen(read_fd, "rb") as f:
        assert startup.decode_result(f.read()) == result


@pytest.mark.parametrize("line, words", [
    ("", "no start-up result"), ("[1]", "malformed"), ('{"ok": true}', "shim_pid"),
])
def test_the_result_line_refused(line, words):
    with pytest.raises(ValueError, match=words):
        startup.decode_result(line)


def test_frames_and_the_exit_payload():
    frame = frames.encode_frame(frames.EXIT, frames.encode_exit(137))
    kind, length = frames.decode_header(frame[:frames.HEADER.size])
    assert (kind, length) == (frames.EXIT, len(frame) - frames.HEADER.size)
    assert frames.decode_exit(frame[frames.HEADER.size:]) == 137
    with pytest.raises(ValueError):
        frames.decode_exit(b'{"exit_code": "1"}')


def test_the_shims_records_parse_in_the_contract():
    stamp = layout.format_time(1_700_000_000_123_456_789).encode()
    records = [logformat.parse_record(r[:-1])
               for r in crilog.frame_records(b"stderr", b"a b\n\nrest", stamp)]
    assert [(r.time, r.stream, r.partial, r.payload()) for r in records] == [
        (stamp.decode(), "stderr", False, b"a b\n"), (stamp.decode(), "stderr", False, b"\n"),
        (stamp.decode(), "stderr", True, b"rest")]


def test_rotated_names():
    path = os.path.join("/d", layout.OUTPUT_LOG)
    assert logformat.rotated_name(path, 3) == "/d/output.log.3"
    assert logformat.rotated_number(os.path.basename(logformat.rotated_name(path, 3))) == 3
    assert [logformat.rotated_number(n) for n in ("output.log", "output.log.x", "shim.log.1")] \
        == [None, None, None]


def test_the_boot_command_runs_the_shim():
    proc = subprocess.run([*boot.boot_command("shim.__main__", "main"), "--help"],
                          capture_output=True, text=True, timeout=30, cwd="/")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: tether-shim")


def test_the_exit_status_record_reads_back_with_extra_fields(tmp):
    data = layout.encode_exit_status(137, 9, exited_at_ns=5, oom_killed=True, dropped_bytes=3)
    layout.publish_once(os.path.join(tmp, layout.EXIT_STATUS), data)
    assert layout.read_exit_status(tmp) == {"exit_code": 137, "signal": 9, "oom_killed": True,
                                            "exited_at": layout.format_time(5),
                                            "dropped_bytes": 3}


def test_zygote_requests_decode_as_encoded():
    options = argv.build_argv({"id": "c", "bundle": "/b", "state_dir": "/s", "tty": True})
    assert zygotemsg.decode_request(zygotemsg.encode_request(options)) == options
    for data in (b"[1]", b"{}", b"\xff", b"nope"):
        with pytest.raises(ValueError):
            zygotemsg.decode_request(data)
    with pytest.raises(ValueError):
        zygotemsg.encode_request(["x" * zygotemsg.MAX_REQUEST])


def make_proc_dir(tmp, version):
    path = os.path.join(tmp, "c1", "init")
    os.makedirs(path)
    if version is not None:
        layout.atomic_write(os.path.join(path, layout.CONTRACT), version)
    return path


def test_the_contract_version_is_ours_or_zero_without_the_file(tmp):
    path = make_proc_dir(tmp, None)
    assert layout.read_contract_version(path) == 0
    layout.atomic_write(os.path.join(path, layout.CONTRACT), layout.contract_data())
    assert layout.read_contract_version(path) == shim.contract.VERSION == 1


def test_a_newer_contract_is_left_unread(tmp):
    path = make_proc_dir(tmp, b"%d\n" % (shim.contract.VERSION + 1))
    with open(os.path.join(path, layout.SHIM_PID), "w") as f:
        f.write("not what we know")
    result = scan.ProcessScan(path).gather()
    assert result.verdict == scan.NEWER and result.shim is None
    assert result.errors == [f"contract version {shim.contract.VERSION + 1} is newer than "
                             f"this manager's {shim.contract.VERSION}"]
    assert not scan.never_started(result.facts)  # so it is never removed either


@pytest.mark.parametrize("version, verdict", [(None, scan.RUNNING), (b"1\n", scan.RUNNING),
                                              (b"x\n", scan.BROKEN)])
def test_known_contract_versions_read_as_today(tmp, version, verdict):
    path = make_proc_dir(tmp, version)
    me = {"pid": os.getpid(), "starttime": layout.proc_starttime(os.getpid())}
    layout.write_json(os.path.join(path, layout.SHIM_PID), me)
    assert scan.ProcessScan(path).gather().verdict == verdict
