"""Stop and remove, in kubelet's order, leave nothing behind on the node."""

import json

from . import messages
from .node import wait_for
from .pods import leftovers

POLITE = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]


def settled(find, timeout=5):
    """Return FIND()'s result once it is empty, or its last result at the deadline."""
    found = []
    try:
        wait_for(lambda: not found.append(find()) and not found[-1], timeout, "no leftovers")
    except AssertionError:
        pass
    return found[-1]


def test_stop_and_remove_leave_nothing_behind(make_pod, node):
    pod = make_pod("teardown")
    running = pod.start("running", POLITE)
    done = pod.start("done", ["sh", "-c", "echo done"])
    pod.wait_state(running, messages.CONTAINER_RUNNING)
    pod.wait_exited(done)
    sandbox_pid = json.loads(pod.status(verbose=True)["info"]["info"])["pid"]
    ids = [pod.id, running, done]
    pids = [sandbox_pid, pod.task_pid(running), *node.shim_pids()]
    cgroups = [pod.cgroup_path(running), pod.cgroup_path(done),
               f"{pod.config['linux']['cgroup_parent']}/{pod.id}"]
    before = leftovers(node, ids, pids, cgroups)
    assert {"processes", "mounts", "task dirs", "cgroups"} <= set(before)

    pod.teardown()
    assert node.client.call("ListPodSandbox", filter={"id": pod.id})["items"] == []
    assert node.client.call("ListContainers", filter={"pod_sandbox_id": pod.id})[
        "containers"] == []
    # runc's shim exits ~1.5 s after the pod's last Delete: allow the leftovers 5 s.
    assert settled(lambda: leftovers(node, ids, pids, cgroups)) == {}
