"""The shared on-disk layout: ids, timestamps, atomic and write-once files."""

import os
import signal

import pytest

from shim.contract import layout


@pytest.mark.parametrize("value", ["a", "A0", "web-1", "x.y_z", "a" * 64, "0"])
def test_validate_id_accepts(value):
    assert layout.validate_id(value) == value


@pytest.mark.parametrize("value", [
    "", "-a", ".a", "_a", "..", "a/b", "/a", "a\x00b", "a\nb", "a b", "a" * 65, "é", None, 3,
])
def test_validate_id_refuses_escapes_and_junk(value):
    with pytest.raises(ValueError, match="invalid id"):
        layout.validate_id(value)


def test_process_dir_refuses_init_as_exec_id(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        layout.process_dir(str(tmp_path), "c", "init")
    assert layout.process_dir(str(tmp_path), "c").endswith("/containers/c/init")


@pytest.mark.parametrize("ns,text", [
    (0, "1970-01-01T00:00:00.000000000Z"),
    (1_795_000_000_123_456_789, "2026-11-18T11:06:40.123456789Z"),
])
def test_format_and_parse_time_round_trip(ns, text):
    assert layout.format_time(ns) == text
    assert layout.parse_time(text) == ns


@pytest.mark.parametrize("text", ["", "2026-11-18", "2026-11-18T08:26:40+01:00", "garbage"])
def test_parse_time_refuses(text):
    with pytest.raises(ValueError):
        layout.parse_time(text)


def test_parse_time_pads_short_fractions():
    assert layout.parse_time("1970-01-01T00:00:01.5Z") == 1_500_000_000


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / "f")
    layout.atomic_write(path, b"one")
    layout.atomic_write(path, b"two")
    assert open(path, "rb").read() == b"two"
    assert os.listdir(tmp_path) == ["f"]


def test_atomic_write_does_not_follow_symlinked_temp(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    os.symlink(target, tmp_path / f".f.{os.getpid()}.tmp")
    with pytest.raises(OSError):
        layout.atomic_write(str(tmp_path / "f"), b"evil")
    assert target.read_bytes() == b"keep"


def test_exit_status_is_written_once(tmp_path):
    assert layout.write_exit_status(str(tmp_path), 3, exited_at_ns=5)
    assert not layout.write_exit_status(str(tmp_path), 0)
    status = layout.read_exit_status(str(tmp_path))
    assert status == {"exit_code": 3, "signal": None, "oom_killed": False,
                      "exited_at": "1970-01-01T00:00:00.000000005Z"}
    assert sorted(os.listdir(tmp_path)) == ["exitStatus"]


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"exit_code": "3"}', b"\x00" * 10])
def test_truncated_exit_status_is_a_state_error(tmp_path, content):
    (tmp_path / "exitStatus").write_bytes(content)
    with pytest.raises(layout.StateError, match="exitStatus"):
        layout.read_exit_status(str(tmp_path))


def test_missing_exit_status_is_none(tmp_path):
    assert layout.read_exit_status(str(tmp_path)) is None


@pytest.mark.parametrize("make_status,expected", [
    (lambda: 0, (0, None)),
    (lambda: 3 << 8, (3, None)),
    (lambda: signal.SIGKILL, (137, 9)),
    (lambda: signal.SIGTERM, (143, 15)),
])
def test_exit_code_from_wait(make_status, expected):
    assert layout.exit_code_from_wait(make_status()) == expected


def test_shim_pid_round_trip_and_reuse_detection(tmp_path):
    layout.write_shim_pid(str(tmp_path), os.getpid())
    pid, starttime = layout.read_shim_pid(str(tmp_path))
    assert pid == os.getpid()
    assert layout.pid_alive(pid, starttime)
    assert not layout.pid_alive(pid, starttime + 1)


def test_proc_starttime_handles_parentheses_in_comm():
    assert layout.proc_starttime(os.getpid()) > 0
    assert layout.proc_starttime(2 ** 22 + 1) is None


@pytest.mark.parametrize("content", [b"", b"12a", b"-1"])
def test_read_int_refuses_junk(tmp_path, content):
    (tmp_path / "pid").write_bytes(content)
    with pytest.raises(layout.StateError, match="pid"):
        layout.read_int(str(tmp_path / "pid"))


def test_remove_tree_hides_then_removes(tmp_path):
    victim = tmp_path / "c"
    (victim / "init").mkdir(parents=True)
    (victim / "init" / "f").write_text("x")
    layout.remove_tree(str(victim))
    assert os.listdir(tmp_path) == []
    layout.remove_tree(str(victim))  # already gone: no error


def test_publish_once_writes_whole_once_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / "exitStatus")
    assert layout.publish_once(path, b'{"exit_code": 3}\n', 0o600)
    assert not layout.publish_once(path, b'{"exit_code": 4}\n', 0o600)
    with open(path, "rb") as f:
        assert f.read() == b'{"exit_code": 3}\n'
    assert os.listdir(tmp_path) == ["exitStatus"]
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_publish_once_never_follows_a_planted_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"mine")
    os.symlink(target, tmp_path / "exitStatus")
    assert not layout.publish_once(str(tmp_path / "exitStatus"), b"x")
    assert target.read_bytes() == b"mine"
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "exitStatus"]
