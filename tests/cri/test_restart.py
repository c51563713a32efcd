"""containerd SIGKILLed and restarted under a running pod: nothing is lost, an exit is kept."""

import os
import time

from . import crilog, messages
from .node import wait_for

# Both wait for /trigger/go, which the test creates while containerd is down.
STEADY = ["sh", "-c", "trap 'exit 0' TERM; echo before;"
          " while [ ! -e /trigger/go ]; do usleep 10000; done; echo during;"
          " while :; do sleep 1 & wait; done"]
QUITTER = ["sh", "-c", "echo before; while [ ! -e /trigger/go ]; do usleep 10000; done;"
           " echo bye; exit 7"]


def stdout_lines(pod, name):
    path = pod.log_file(name)
    return crilog.reassemble(crilog.read(path)).get("stdout", []) if os.path.exists(path) else []


def test_containerd_killed_and_restarted(make_pod, node, tmp_path):
    pod = make_pod("restart")
    trigger = tmp_path / "trigger"
    trigger.mkdir()
    mounts = [(str(trigger), "/trigger")]
    steady, quitter = pod.start("steady", STEADY, mounts=mounts), \
        pod.start("quitter", QUITTER, mounts=mounts)
    for name in ("steady", "quitter"):
        wait_for(lambda: stdout_lines(pod, name) == [b"before"], 10, f"{name}'s first line")
    quitter_pid = pod.task_pid(quitter)
    shims = node.shim_pids()
    assert shims

    node.kill()
    (trigger / "go").touch()
    exited_after = time.time_ns()
    # The exit happens while containerd is down: the shim reaps it and keeps it.
    wait_for(lambda: not os.path.exists(f"/proc/{quitter_pid}"), 10, "the quitter's exit")
    assert all(os.path.exists(f"/proc/{pid}") for pid in shims), "a shim died with containerd"
    restarted_at = time.time_ns()
    node.start()

    pods = node.client.call("ListPodSandbox")["items"]
    assert [(p["id"], p["state"]) for p in pods] == [(pod.id, messages.SANDBOX_READY)]
    states = {c["id"]: c["state"] for c in pod.client.pod_containers(pod.id)}
    assert states == {steady: messages.CONTAINER_RUNNING, quitter: messages.CONTAINER_EXITED}
    status = pod.client.container_state(quitter)
    assert (status["exit_code"], status["reason"]) == (7, "Error")
    # The exit's own time, not the time containerd learnt of it.
    assert exited_after - 10**9 < status["finished_at"] < restarted_at
    # Output written while containerd was down reaches the logs once it is back.
    wait_for(lambda: stdout_lines(pod, "steady") == [b"before", b"during"], 10, "steady's line")
    # containerd 1.6 reopens the output of running containers only: what a container
    # wrote just before exiting while containerd was down is lost, on runc too.
    assert stdout_lines(pod, "quitter") in ([b"before"], [b"before", b"bye"])
    assert node.client.exec_sync(steady, ["echo", "still here"])[:2] == (0, b"still here\n")
    pod.client.call("StopContainer", container_id=steady, timeout=10)
    assert pod.wait_exited(steady)["reason"] == "Completed"
