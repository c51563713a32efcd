"""Grouping and the start/delete command line (no containerd)."""

import json

import pytest

from manager.containerd import command, groups


def write_spec(tmp_path, annotations):
    (tmp_path / "config.json").write_text(json.dumps({"annotations": annotations}))
    return str(tmp_path)


@pytest.mark.parametrize("env, annotations, group", [
    (None, {groups.SANDBOX_ANNOTATION: "abc123"}, groups.SHARED),
    ("pod", {groups.SANDBOX_ANNOTATION: "abc123"}, "pod-abc123"),
    ("pod", {}, groups.SHARED),
    ("pod", {groups.SANDBOX_ANNOTATION: "../escape"}, groups.SHARED),
])
def test_group_of_a_bundle(tmp_path, monkeypatch, env, annotations, group):
    if env:
        monkeypatch.setenv(groups.GROUP_ENV, env)
    assert groups.group_name(write_spec(tmp_path, annotations)) == group


def test_socket_path_stays_short_and_differs_per_containerd(monkeypatch):
    monkeypatch.setenv(groups.BASE_ENV, "/tmp/" + "x" * 40)
    root = groups.group_root("default", groups.SHARED)
    a, b = groups.socket_path(root, "/run/a.sock"), groups.socket_path(root, "/run/b.sock")
    assert a != b and len(a) < 106


@pytest.mark.parametrize("argv, flags, action", [
    (["-namespace", "ns", "-address", "/a", "-publish-binary", "/c", "-id", "x", "start"],
     {"namespace": "ns", "address": "/a", "publish-binary": "/c", "id": "x"}, "start"),
    (["--namespace=ns", "-id", "x", "-debug", "-bundle", "/b", "delete"],
     {"namespace": "ns", "id": "x", "debug": True, "bundle": "/b"}, "delete"),
])
def test_go_style_flags(argv, flags, action):
    assert command.parse_args(argv) == (flags, action)


@pytest.mark.parametrize("argv", [["-nope", "x", "start"], ["-id"], ["-id", "x", "frobnicate"]])
def test_bad_command_lines_are_usage_errors(argv):
    with pytest.raises(command.UsageError):
        command.parse_args(argv)


def test_bad_namespace_is_refused():
    with pytest.raises(ValueError):
        groups.group_root("../x", groups.SHARED)


def test_the_delete_action_stays_lean():
    """`delete` runs at every teardown: no asyncio, no core, no protobuf runtime."""
    import subprocess
    import sys
    code = ("import sys; from manager.containerd import cleanup, bootstrap; "
            "print(sorted(m for m in ('asyncio', 'manager.core.service', 'google.protobuf', "
            "'logging', 'subprocess') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
