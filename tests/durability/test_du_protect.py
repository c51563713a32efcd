"""What the manager and the shims keep for what they start: core dumps possible."""

import os
import resource
import signal
import subprocess

import helpers
import managerfixture

CORE_LIMIT = 8 << 20  # a soft RLIMIT_CORE the test's caller sets, to find again below


def core_limit(pid):
    """Return the soft 'Max core file size' of PID from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max core file size"):
                soft = line.split()[4]
                return None if soft == "unlimited" else int(soft)
    raise AssertionError(f"no core limit in /proc/{pid}/limits")


def with_core_limit():
    resource.setrlimit(resource.RLIMIT_CORE, (CORE_LIMIT, resource.RLIM_INFINITY))


def test_du_detached_manager_keeps_core_dumps_possible(root, rootfs):
    # python-daemon's prevent_core (default True) set RLIMIT_CORE to 0 for the
    # manager and for every shim, runc and container it started.
    manager = managerfixture.ManagerProcess(root)
    result = subprocess.run([*manager.argv, "--detach"], cwd=managerfixture.REPO,
                            capture_output=True, text=True, timeout=30,
                            preexec_fn=with_core_limit)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(root, "tether.pid")) as f:
        manager_pid = int(f.read())
    try:
        assert core_limit(manager_pid) == CORE_LIMIT
        manager.ok("POST", "/v1/containers", {"id": "du-core", "rootfs": rootfs,
                                              "args": ["sleep", "1000"]})
        state = manager.ok("POST", "/v1/containers/du-core/start")
        assert core_limit(state["shim_pid"]) == CORE_LIMIT
        assert core_limit(state["pid"]) == CORE_LIMIT
    finally:
        manager.request("DELETE", "/v1/containers/du-core?force=1")
        os.kill(manager_pid, signal.SIGTERM)
        helpers.wait_until(lambda: not helpers.pid_alive(manager_pid), 10,
                           what="detached manager stopped")
