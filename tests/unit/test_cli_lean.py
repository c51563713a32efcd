"""The CLI starts fast: each command imports only what it needs (bench/CHANGES.md).

Import lists, not timings: `tether list` costs ~20 ms over a bare interpreter
because it imports none of argparse, re, json, enum, socket, http.client,
email or urllib; jsontext is json.dumps(indent=2)'s twin.
"""

import json
import os
import subprocess
import sys

import pytest

from manager.cli import jsontext
from test_cli_http import CannedManager  # the sibling test module's canned manager

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Each of these costs a plain command 1-35 ms of imports.
HEAVY = ("argparse", "re", "json", "enum", "signal", "socket", "selectors", "http", "email",
         "urllib", "base64", "orjson", "asyncio", "dataclasses", "inspect", "pathlib",
         "shutil", "subprocess", "logging", "gettext", "typing", "collections")
PROBE = """
import sys
sys.path[:0] = [%r]
from manager.cli import main as cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
sys.stderr.write("loaded: " + " ".join(m for m in %r if m in sys.modules) + "\\n")
sys.exit(code)
""" % (REPO, HEAVY)
STATE = {"id": "c1", "status": "running", "pid": 42, "exit_code": None, "labels": {"k": "v"},
         "created_at": "2026-11-23T00:33:29.123456789Z", "bundle": "/b", "processes": []}


def loaded_by(*args):
    """Run the CLI with ARGS in a bare interpreter; return (exit code, heavy modules loaded)."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, *args],
                          capture_output=True, text=True, timeout=30)
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("loaded:"), proc.stderr
    return proc.returncode, last.split()[1:]


@pytest.fixture
def manager_answering(tmp):
    """Return a factory: manager_answering(JSON body) -> the socket path of a canned manager."""
    servers = []

    def start(body):
        data = json.dumps(body).encode()
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
        servers.append(CannedManager(os.path.join(tmp, f"m{len(servers)}.sock"), answer))
        return servers[-1].path

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["ls", "-q"], ["state", "c1"]])
def test_list_and_state_import_nothing_heavy(manager_answering, args):
    body = [STATE] if args[0] != "state" else STATE
    assert loaded_by("--socket", manager_answering(body), *args) == (0, [])


@pytest.mark.parametrize("args", [
    ["--version"], ["run", "-d", "c1", "--rootfs", "/"], ["exec", "c1", "--", "true"],
    ["attach", "c1"], ["logs", "-f", "c1"], ["events"], ["wait", "c1"], ["start", "c1"],
    ["delete", "-f", "c1"], ["spec"],
])
def test_other_commands_import_nothing_heavy(tmp, args):
    code, loaded = loaded_by("--root", os.path.join(tmp, "none"), *args)
    assert code in (0, 125) and loaded == []


def test_kill_imports_signal_for_the_names_only(tmp):
    code, loaded = loaded_by("--root", tmp, "kill", "c1", "KILL")
    assert code == 125 and "signal" in loaded
    assert set(loaded) <= {"signal", "enum", "collections"}  # signal's own imports


def test_help_and_errors_still_go_through_argparse(tmp):
    code, loaded = loaded_by("list", "--bogus")
    assert code == 125 and "argparse" in loaded


def test_the_editable_install_is_a_plain_path_entry():
    # setuptools' import-hook finder cost every command ~20 ms (setup.cfg, package_dir).
    probe = "import sys; print(' '.join(m for m in sys.modules if '__editable__' in m))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=30, check=True)
    assert proc.stdout.split() == []


@pytest.mark.parametrize("value", [
    {}, [], (), "x", 0, -7, 2.5, True, None, "é\n\"\\\x01", {"a": [1, {"b": None}], "c": "ü"},
    [[[]]], {"a": {}, "b": []}, {1: "int key", None: 2, False: 3, 2.5: 4}, STATE, [STATE, STATE],
])
def test_jsontext_matches_json_indent_2(value):
    assert jsontext.dumps_indented(value) == json.dumps(value, indent=2)


def test_jsontext_refuses_what_json_refuses():
    with pytest.raises(TypeError):
        jsontext.dumps_indented({(1, 2): "tuple key"})
    with pytest.raises(TypeError):
        jsontext.dumps_indented([object()])
