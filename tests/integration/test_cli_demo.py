"""contrib/tether-demo, as a newcomer runs it: it must pass and say what it showed."""

import os
import re
import subprocess

from cliutil import BIN_DIR, REPO

DEMO = os.path.join(REPO, "contrib", "tether-demo")


def test_demo_shows_survival_and_the_true_exit_code(root):
    env = dict(os.environ, PATH=BIN_DIR + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(["bash", DEMO, root], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pid = re.search(r"demo-long is still running with the same pid (\d+)", proc.stdout)
    assert pid, proc.stdout
    table_rows = re.findall(r"^demo-long +running +(\d+) ", proc.stdout, re.M)
    assert len(table_rows) == 2 and set(table_rows) == {pid.group(1)}, proc.stdout
    assert re.search(r"^demo-exit7 +stopped +\S+ +7 ", proc.stdout, re.M), proc.stdout
    assert "demo-exit7 is stopped with exit code 7" in proc.stdout
    assert not os.path.exists(os.path.join(root, "tether.sock"))
    assert os.listdir(os.path.join(root, "containers")) == []
