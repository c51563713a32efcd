"""ContainerStatus reports each exit as kubelet needs it: the true code and the reason."""

import os
import signal

import pytest

from . import messages
from .client import CriError

# The shell holds the whole string in memory: far over a 16 MiB limit.
HOG = "x=$(head -c 64000000 /dev/zero | tr '\\000' a); echo ${#x}"
CASES = {
    "completed": (["sh", "-c", "exit 0"], None, 0, "Completed"),
    "error": (["sh", "-c", "exit 3"], None, 3, "Error"),
    # PID 1 of a pid namespace cannot be killed from inside it: the test kills it.
    "killed": (["sh", "-c", "exec sleep 1000"], None, 137, "Error"),
    "oom": (["sh", "-c", HOG], 16 << 20, 137, "OOMKilled"),
}


def test_exit_codes_and_reasons(make_pod):
    pod = make_pod("exits")
    started = {name: pod.start(name, command, memory=memory)
               for name, (command, memory, _, _) in CASES.items()}
    pod.wait_state(started["killed"], messages.CONTAINER_RUNNING)
    os.kill(pod.task_pid(started["killed"]), signal.SIGKILL)
    for name, cid in started.items():
        status = pod.wait_exited(cid, timeout=30)
        _, _, code, reason = CASES[name]
        assert (name, status["exit_code"], status["reason"]) == (name, code, reason)
        # started_at is containerd's clock after Start returns; a quick exit may precede it.
        assert status["finished_at"] > status["created_at"] > 0


def test_start_of_a_missing_program_fails_and_says_so(make_pod):
    pod = make_pod("missing")
    cid = pod.create("missing", ["/bin/no-such-program"])
    with pytest.raises(CriError) as failed:
        pod.client.call("StartContainer", container_id=cid)
    assert "no-such-program" in failed.value.details
    status = pod.client.container_state(cid)
    assert (status["state"], status["exit_code"], status["reason"]) == \
        (messages.CONTAINER_EXITED, 128, "StartError")
    assert "no-such-program" in status["message"]
