"""The CLI starts fast: client commands never import the daemon's machinery."""

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("asyncio", "orjson", "pyinotify", "daemon", "manager.server.daemon", "manager.server.routes")
PROBE = """
import json, sys
from manager.cli import main as cli
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.parametrize("args", [
    ["list"], ["state", "c1"], ["logs", "-f", "c1"], ["events"], ["kill", "c1", "KILL"],
    ["run", "-d", "c1", "--rootfs", "/"], ["exec", "c1", "--", "true"], ["attach", "c1"],
])
def test_client_commands_do_not_import_the_daemon(tmp, args):
    root = os.path.join(tmp, "no-manager")
    proc = subprocess.run([sys.executable, "-c", PROBE, "--root", root, *args],
                          capture_output=True, text=True, timeout=30)
    result = json.loads(proc.stdout)
    assert result == {"code": 125, "loaded": []}
    assert proc.stderr.startswith("tether: cannot reach the manager at ")
