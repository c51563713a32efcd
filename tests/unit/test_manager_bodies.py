"""Signal names and request body validation."""

import signal

import pytest

from manager.server import bodies
from manager.spawn.runtime import parse_signal, runc_message


@pytest.mark.parametrize("value, expected", [
    ("TERM", 15), ("SIGTERM", 15), ("sigkill", 9), ("kill", 9), (9, 9), ("9", 9),
    ("HUP", 1), ("SIGUSR1", int(signal.SIGUSR1)), ("RTMIN", int(signal.SIGRTMIN)),
])
def test_parse_signal(value, expected):
    assert parse_signal(value) == expected


@pytest.mark.parametrize("value", ["", "NOPE", "SIG", "SIG_DFL", "SIG_IGN", 0, -1, 65, "99",
                                   None, True, 1.5, ["TERM"], "-9"])
def test_parse_signal_refuses(value):
    with pytest.raises(ValueError):
        parse_signal(value)


def test_runc_message_takes_msg_of_the_last_line():
    stderr = (b'time="2026" level=warning msg="x"\n'
              b'time="2026" level=error msg="container \\"web\\" does not exist"\n')
    assert runc_message(stderr) == 'container "web" does not exist'
    assert runc_message(b"plain failure\n") == "plain failure"


def test_parse_create_rootfs(tmp):
    opts = bodies.parse_create({"id": "web", "rootfs": tmp, "args": ["sh"], "env": ["A=1"]})
    assert opts["rootfs"] == tmp and opts["env"] == ["A=1"] and opts["runtime"] == "runc"


@pytest.mark.parametrize("body, words", [
    ({"id": "../etc", "rootfs": "/"}, "invalid id"),
    ({"id": "a" * 65, "rootfs": "/"}, "invalid id"),
    ({"id": "web"}, "exactly one"),
    ({"id": "web", "rootfs": "relative"}, "absolute"),
    ({"id": "web", "rootfs": "/nonexistent-dir"}, "not a directory"),
    ({"id": "web", "rootfs": "/", "env": ["NOEQUALS"]}, "K=V"),
    ({"id": "web", "rootfs": "/", "env": "A=1"}, "list of strings"),
    ({"id": "web", "rootfs": "/", "tty": "yes"}, "true or false"),
    ({"id": "web", "rootfs": "/", "console_size": [0, 24]}, "console_size"),
    ({"id": "web", "rootfs": "/", "labels": {"a": 1}}, "labels"),
    ({"id": "web", "rootfs": "/", "runtime": "crun"}, "runtime"),
    ({"id": "web", "bundle": "/", "args": ["sh"]}, "refused with a bundle"),
])
def test_parse_create_refuses(body, words):
    with pytest.raises(bodies.BadRequest) as info:
        bodies.parse_create(body)
    assert words in str(info.value)


@pytest.mark.parametrize("body", [
    {"args": []}, {"args": "sh"}, {"args": ["sh"], "exec_id": "init"},
    {"args": ["sh"], "exec_id": "a/b"}, {"args": ["sh"], "cwd": "tmp"},
    {"args": ["sh"], "exec_id": "bundle"},
])
def test_parse_exec_refuses(body):
    with pytest.raises(bodies.BadRequest):
        bodies.parse_exec(body)


def test_parse_kill_defaults_to_term():
    assert bodies.parse_kill({}) == (15, False, None)
    assert bodies.parse_kill({"signal": "KILL", "all": True, "exec_id": "e1"}) == (9, True, "e1")
    with pytest.raises(bodies.BadRequest):
        bodies.parse_kill({"signal": "NOPE"})


def test_parse_query_values():
    assert bodies.parse_tail({"tail": "5"}) == 5
    assert bodies.parse_tail({}) is None
    with pytest.raises(bodies.BadRequest):
        bodies.parse_tail({"tail": "-1"})
    with pytest.raises(bodies.BadRequest):
        bodies.parse_since({"since": "yesterday"})
    assert bodies.parse_flag({"follow": "1"}, "follow") and not bodies.parse_flag({}, "follow")
