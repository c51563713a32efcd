"""Control lines, OOM counters and cgroup paths, native exec errors, the reaper's memory."""

import errno

import pytest

from shim import native, oom, reaper
from shim.contract import controlline, startup


@pytest.mark.parametrize("line,expected", [
    (b'{"resize": [80, 24]}', ("resize", (80, 24))),
    (b'{"close_stdin": true}', ("close_stdin", None)),
    (b'{"start": true}', ("start", None)),
])
def test_parse_control_line(line, expected):
    assert controlline.decode(line) == expected


@pytest.mark.parametrize("line", [
    b"not json", b"[]", b'{"resize": [80]}', b'{"resize": [0, 24]}', b'{"resize": "80x24"}',
    b'{"close_stdin": false}', b'{"bogus": 1}', b'{"resize": [1, 1], "start": true}',
    b"\xff\xfe",
])
def test_parse_control_line_refuses(line):
    with pytest.raises(ValueError):
        controlline.decode(line)


V1 = """12:memory:/tether/c
11:cpu,cpuacct:/tether/c
0::/
"""
V2 = "0::/system.slice/x.scope\n"


def test_memory_cgroup_dir_v1_and_v2(tmp_path):
    assert oom.memory_cgroup_dir(V1, "/sys/fs/cgroup") == "/sys/fs/cgroup/memory/tether/c"
    (tmp_path / "cgroup.controllers").write_text("memory\n")
    assert oom.memory_cgroup_dir(V2, str(tmp_path)) == f"{tmp_path}/system.slice/x.scope"
    assert oom.memory_cgroup_dir(V2, str(tmp_path / "none")) is None


@pytest.mark.parametrize("text,count", [
    ("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", 2),
    ("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n", 1),
    ("oom_kill_disable 0\nunder_oom 0\n", None),
])
def test_parse_oom_kills(text, count):
    assert oom.parse_oom_kills(text) == count


@pytest.mark.parametrize("arg0,err,code,text", [
    ("nope", errno.ENOENT, 127, 'exec: "nope": executable file not found in $PATH'),
    ("/nope", errno.ENOENT, 127, 'exec: "/nope": stat /nope: no such file or directory'),
    ("/etc/passwd", errno.EACCES, 126, 'exec: "/etc/passwd": permission denied'),
    ("/bin/x", errno.ENOEXEC, 126, 'exec: "/bin/x": permission denied'),
    ("x", errno.E2BIG, 125, 'exec: "x": Argument list too long'),
])
def test_native_exec_error(arg0, err, code, text):
    assert native.exec_error(arg0, OSError(err, __import__("os").strerror(err))) == (code, text)


def test_native_helpers():
    assert native.env_dict(["A=1", "B=x=y", "A=2", "C"]) == {"A": "2", "B": "x=y", "C": ""}
    assert native.resolve_cwd("/srv", "/b") == "/srv"
    assert native.resolve_cwd("work", "/b") == "/b/work"
    assert native.read_exec_error(b'127 exec: "x": not found') == (127, 'exec: "x": not found')
    assert native.read_exec_error(b"junk") == (125, "")


def test_reaper_remembers_unclaimed_exits_and_routes_watched_ones():
    r = reaper.Reaper()
    seen = []
    r._record(10, 256, 1)  # exited before anyone watched it
    r.watch(11, lambda *a: seen.append(a))
    r._record(11, 0, 2)
    r.watch(10, lambda *a: seen.append(a))
    assert seen == [(11, 0, 2), (10, 256, 1)]
    assert not r.has_exited(10)
    for pid in range(1000, 1000 + reaper._MAX_UNCLAIMED + 5):
        r._record(pid, 0, 0)
    assert not r.has_exited(1000) and r.has_exited(1000 + reaper._MAX_UNCLAIMED + 4)


@pytest.mark.parametrize("line,ok,code", [
    (b'{"ok": true, "shim_pid": 1, "pid": 2}', True, 0),
    (b'{"ok": false, "exit_code": 127, "error": "x"}', False, 127),
    (b"", False, 125),
    (b"garbage", False, 125),
])
def test_parse_and_print_result(line, ok, code, capsys):
    parsed = startup.parse_result(line)
    assert parsed["ok"] is ok
    assert startup.print_result(parsed) == code
    out, err = capsys.readouterr()
    assert (out.startswith("shim 1 container 2") if ok else err.startswith("tether-shim: "))
