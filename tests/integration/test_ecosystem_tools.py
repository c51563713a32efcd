"""Completion of container ids from a real manager, the systemd unit, and the typed client."""

import os
import re
import shutil
import subprocess

import pytest

from cliutil import BIN_DIR, manager, tether  # noqa: F401
from manager.client.methods import ApiError, Client
from manager.client.results import ContainerState, Event, ExitResult, LogRecord, ProcessState

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(REPO, "contrib", "tether.service")
BASH_SCRIPT = os.path.join(REPO, "contrib", "completion", "tether.bash")


def complete_bash(line):
    """Return COMPREPLY for LINE from the real _tether, with the venv's tether on PATH."""
    script = ('source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");'
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _tether; printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=BIN_DIR + os.pathsep + os.environ["PATH"])
    out = subprocess.run(["bash", "--norc", "-c", script, "_", BASH_SCRIPT, line], env=env,
                         capture_output=True, text=True, timeout=20, check=True)
    return [w for w in out.stdout.split("\n") if w]


def test_bash_completes_container_ids_of_the_root_on_the_line(tether, manager, make_bundle):
    for cid in ("web", "worker", "db"):
        assert tether("create", cid, "--bundle", make_bundle(["true"]))[0] == 0
    root = manager.root
    assert complete_bash(f"tether --root {root} kill w") == ["web", "worker"]
    assert complete_bash(f"tether --root {root} logs -f ") == ["db", "web", "worker"]
    assert complete_bash(f"tether --root {root} logs -f db ") == []
    assert complete_bash(f"tether --root {root}-none start ") == []


def unit_settings():
    """Return {key: [values]} of the [Service] section of the unit."""
    settings, section = {}, None
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif line and not line.startswith("#") and section == "[Service]":
                key, _, value = line.partition("=")
                settings.setdefault(key, []).append(value)
    return settings


def test_unit_keeps_shims_across_restarts_and_waits_for_readiness():
    settings = unit_settings()
    assert settings["Type"] == ["notify"] and settings["Restart"] == ["always"]
    assert settings["KillMode"] == ["process"] and settings["Delegate"] == ["yes"]
    assert re.fullmatch(r"\S*/tether --root /run/tether daemon.*", settings["ExecStart"][0])
    assert "--detach" not in settings["ExecStart"][0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed: the unit is not verified")
def test_unit_verifies(tmp):
    with open(UNIT) as f:
        text = f.read()
    # Point ExecStart at the installed console script: verify checks it is executable.
    text = text.replace("/usr/local/bin/tether", os.path.join(BIN_DIR, "tether"))
    path = os.path.join(tmp, "tether.service")
    with open(path, "w") as f:
        f.write(text)
    out = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "tether.service" not in out.stderr, out.stderr


def test_client_returns_typed_records(manager, make_bundle):
    client = Client(manager.socket)
    assert client.version().api == "v1"
    bundle = make_bundle(["sh", "-c", "echo hi; sleep 1000"])
    created = client.create({"id": "t1", "bundle": bundle})
    assert isinstance(created, ContainerState) and created.status == "created"
    events = client.events(since=created.created_at)
    first = next(events)
    events.close()
    assert isinstance(first, Event) and (first.type, first.id) == ("create", "t1")
    started = client.start("t1")
    assert started.status == "running" and started.pid > 0
    process = client.exec("t1", {"args": ["sh", "-c", "exit 4"], "exec_id": "e1"})
    assert isinstance(process, ProcessState) and process.id == "e1"
    exited = client.wait("t1", exec_id="e1")
    assert isinstance(exited, ExitResult) and exited.exit_code == 4
    assert [p.id for p in client.state("t1").processes] == ["e1"]
    client.kill("t1", "KILL")
    assert client.wait("t1").exit_code == 137
    records = list(client.logs("t1"))
    assert all(isinstance(r, LogRecord) for r in records)
    assert b"".join(r.data for r in records) == b"hi\n"
    assert [s.id for s in client.list()] == ["t1"]
    client.delete("t1")
    with pytest.raises(ApiError) as info:
        client.state("t1")
    assert info.value.status == 404 and info.value.message == "no such container: t1"
