"""Exit hooks with real runc: run by the shim while the manager is SIGKILLed; a hanging one.

The hook's outcome is in the shim's log and in `state` (exit_hook.result).
"""

import json
import os
import subprocess
import time

from cliutil import manager, tether  # noqa: F401
import helpers


def hook_writing(path):
    """Return the --exit-command options of a hook that writes its environment to PATH."""
    script = f'echo "$TETHER_ID $TETHER_EXIT_CODE $TETHER_EXIT_SIGNAL" > {path}.tmp; ' \
             f'mv {path}.tmp {path}'
    # =-c: a separate "-c" would read as an option of tether's own.
    return ["--exit-command", "/bin/sh", "--exit-command-arg=-c", "--exit-command-arg", script]


def hook_result(tether, cid):
    """Return exit_hook.result of CID's state once the hook has ended, else None."""
    rc, out, _err = tether("state", cid)
    return json.loads(out).get("exit_hook", {}).get("result") if rc == 0 else None


def test_the_hook_runs_while_the_manager_is_down_and_state_shows_it_after(manager, tether,
                                                                        rootfs, tmp):
    seen = os.path.join(tmp, "hook-ran")
    rc, _out, err = tether("run", "-d", "st-hook", "--rootfs", rootfs, *hook_writing(seen),
                           "--", "sleep", "1000")
    assert rc == 0, err
    assert json.loads(tether("state", "st-hook")[1])["exit_hook"]["result"] is None
    manager.kill()  # SIGKILL: nobody but the shim is left to run the hook
    subprocess.run(["runc", "--root", os.path.join(manager.root, "runc"), "kill", "st-hook",
                    "KILL"], check=True, timeout=30)
    helpers.wait_until(lambda: os.path.exists(seen), 10, what="the hook's file")
    with open(seen) as f:
        assert f.read() == "st-hook 137 9\n"
    manager.start()
    result = helpers.wait_until(lambda: hook_result(tether, "st-hook"), 10,
                                what="the hook's result in state")
    assert (result["exit_code"], result["timed_out"], result["error"]) == (0, False, None)
    proc_dir = os.path.join(manager.root, "containers", "st-hook", "init")
    with open(os.path.join(proc_dir, "shim.log")) as f:
        lines = [json.loads(line) for line in f]
    assert [line["exit_code"] for line in lines if line["msg"] == "exit hook ended"] == [0]


def test_a_hanging_hook_delays_neither_the_exit_nor_the_removal(tether, rootfs):
    started = time.monotonic()
    rc, _out, err = tether("run", "st-hang", "--rootfs", rootfs, "--exit-command", "/bin/sleep",
                           "--exit-command-arg", "100", "--exit-timeout", "1s", "--", "sh", "-c",
                           "exit 5")
    assert rc == 5, err
    assert time.monotonic() - started < 5  # the exit code came at once, not after the hook
    assert json.loads(tether("state", "st-hang")[1])["exit_code"] == 5
    result = helpers.wait_until(lambda: hook_result(tether, "st-hang"), 10,
                                what="the hanging hook killed")
    assert result["timed_out"] and result["signal"] == 9
    assert result["error"] == "killed after the timeout of 1 s"


def test_a_removed_container_does_not_wait_for_its_hook(tether, rootfs):
    rc, _out, err = tether("run", "--rm", "st-hang-rm", "--rootfs", rootfs, "--exit-command",
                           "/bin/sleep", "--exit-command-arg", "100", "--exit-timeout", "2s",
                           "--", "true")
    assert rc == 0, err
    started = time.monotonic()
    helpers.wait_until(lambda: tether("state", "st-hang-rm")[0] == 125, 5,
                       what="--rm removal while the hook hangs")
    assert time.monotonic() - started < 2  # removed before the hook's timeout
    # The runner outlives the removal until the hook's timeout, then ends by itself.
    helpers.wait_until(lambda: not helpers.processes_mentioning("st-hang-rm"), 10,
                       what="the hook's runner gone after its timeout")
