"""A pod with two containers, driven as a kubelet drives it, on each runtime handler."""

import pytest

from . import messages
from .client import CriError
from .node import memory_limit
from .pods import Pod

# Exits 0 on SIGTERM (kubelet's StopContainer sends it first): reason Completed.
POLITE = ["sh", "-c", "trap 'exit 0' TERM; echo up; while :; do sleep 1 & wait; done"]
# PID 1 without a TERM handler ignores SIGTERM: StopContainer's timeout ends in SIGKILL.
STUBBORN = ["sh", "-c", "echo up; exec sleep 1000"]


def test_version_names_containerd_and_cri_v1(node):
    version = node.client.call("Version", version="v1")
    assert version["runtime_name"] == "containerd"
    assert version["runtime_api_version"] == "v1"


def test_pod_with_two_containers(make_pod, node, handler):
    pod = make_pod("two")
    status = pod.status()["status"]
    assert (status["state"], status["runtime_handler"]) == (messages.SANDBOX_READY, handler)
    a = pod.start("a", POLITE)
    b = pod.start("b", STUBBORN)
    for cid in (a, b):
        assert pod.wait_state(cid, messages.CONTAINER_RUNNING)["exit_code"] == 0

    listed = {c["id"]: c for c in pod.client.pod_containers(pod.id)}
    assert set(listed) == {a, b}
    assert {c["state"] for c in listed.values()} == {messages.CONTAINER_RUNNING}
    assert listed[a]["metadata"]["name"] == "a" and listed[a]["pod_sandbox_id"] == pod.id
    pods = node.client.call("ListPodSandbox", filter={"id": pod.id})["items"]
    assert [(p["id"], p["state"], p["runtime_handler"]) for p in pods] == \
        [(pod.id, messages.SANDBOX_READY, handler)]

    code, out, err = node.client.exec_sync(a, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (code, out, err) == (3, b"out\n", b"err\n")
    # One network namespace per pod: both containers see the pod's address.
    if not node.host_network:
        ip = status["network"]["ip"]
        for cid in (a, b):
            code, out, _ = node.client.exec_sync(cid, ["ip", "-o", "-4", "addr", "show", "eth0"])
            assert code == 0 and f" {ip}/".encode() in out

    pod.client.call("StopContainer", container_id=a, timeout=10)
    pod.client.call("StopContainer", container_id=b, timeout=1)
    stopped_a, stopped_b = pod.wait_exited(a), pod.wait_exited(b)
    assert (stopped_a["exit_code"], stopped_a["reason"]) == (0, "Completed")
    assert (stopped_b["exit_code"], stopped_b["reason"]) == (137, "Error")


def test_stats_and_resource_update(make_pod, node):
    pod = make_pod("res")
    cid = pod.start("c", POLITE, memory=64 << 20)
    pod.wait_state(cid, messages.CONTAINER_RUNNING)
    stats = node.client.call("ContainerStats", container_id=cid)["stats"]
    assert stats["attributes"]["id"] == cid
    assert stats["memory"]["working_set_bytes"]["value"] > 0
    assert stats["cpu"]["usage_core_nano_seconds"]["value"] > 0

    cgroup = pod.cgroup_path(cid)
    assert memory_limit(cgroup) == 64 << 20
    node.client.call("UpdateContainerResources", container_id=cid,
                     linux={"memory_limit_in_bytes": 96 << 20})
    assert memory_limit(cgroup) == 96 << 20


def test_unknown_handler_is_refused(node, tmp_path):
    pod = Pod(node, "nosuch", "nohandler", str(tmp_path))
    with pytest.raises(CriError) as refused:
        pod.run()
    assert 'no runtime for "nosuch" is configured' in refused.value.details
    assert node.client.call("ListPodSandbox", filter={"label_selector": {
        "tether.test/pod": "nohandler"}})["items"] == []
