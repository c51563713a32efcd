"""manager.core.usage: the update body's checks and the refusals (no processes)."""

import asyncio

import pytest

from manager.core import checkpoint, errors, model, usage


@pytest.mark.parametrize("body, limits", [
    ({"memory": 64 << 20}, {"memory": 64 << 20, "cpus": None, "pids_limit": None}),
    ({"cpus": 1, "pids_limit": 5}, {"memory": None, "cpus": 1.0, "pids_limit": 5}),
])
def test_update_body_is_parsed(body, limits):
    assert usage.parse_update(body) == limits


@pytest.mark.parametrize("body, why", [
    ({}, "nothing to change"), ([], "JSON object"), ({"memory": "64m"}, "invalid memory"),
    ({"memory": True}, "invalid memory"), ({"memory": 1}, "invalid memory"),
    ({"cpus": 0}, "invalid cpus"), ({"cpus": "1"}, "invalid cpus"),
    ({"pids_limit": 0}, "invalid pids_limit"), ({"swap": 1}, "unknown fields: swap"),
])
def test_bad_update_bodies_are_invalid_arguments(body, why):
    with pytest.raises(errors.InvalidArgument, match=why):
        usage.parse_update(body)


class NoUpdate:
    """A runtime without update (the native one)."""


def test_update_is_refused_for_the_native_runtime(tmp):
    container = model.Container("c1", tmp, runtime="native")
    container.init.status = model.RUNNING
    with pytest.raises(errors.WrongState, match="native runtime"):
        asyncio.run(usage.update(NoUpdate(), container, {"memory": 1 << 20}))


def test_stats_of_a_stopped_container_is_wrong_state(tmp):
    container = model.Container("c1", tmp)
    container.init.status = model.STOPPED
    with pytest.raises(errors.WrongState, match="container is stopped"):
        usage.sample(None, container)


def test_a_checkpoint_failure_names_runc_and_criu_in_one_line(tmp):
    with open(f"{tmp}/dump.log", "w") as f:
        f.write("(00.0001) Version: 3.17.1\n"
                "(00.016046) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n"
                "(00.016049) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n")
    err = Exception("runc checkpoint: criu failed: type DUMP errno 0\\nlog file: dump.log")
    assert checkpoint.failure_line("c1", tmp, err) == (
        "checkpoint c1: runc checkpoint: criu failed: type DUMP errno 0; log file: dump.log; "
        f"CRIU: vdso: Unexpected rt vDSO area bounds (log {tmp}/dump.log)")


@pytest.mark.parametrize("body, why", [
    ({}, "absolute"), ({"image_path": "rel"}, "absolute"), ({"image_path": "/a\0b"}, "absolute"),
    ({"image_path": "/a", "leave_running": 1}, "true or false"), ({"x": 1}, "unknown"),
])
def test_bad_checkpoint_bodies_are_invalid(body, why):
    with pytest.raises(errors.InvalidArgument, match=why):
        checkpoint.parse_checkpoint(body)


def test_a_restore_failure_names_criu_in_one_line(tmp):
    with open(f"{tmp}/restore.log", "w") as f:
        f.write("(00.016046) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n")
    line = checkpoint.restore_failure("c1", tmp, "runc restore: criu failed: type RESTORE "
                                                 "errno 0\nlog file: restore.log")
    assert line == ("restore c1: runc restore: criu failed: type RESTORE errno 0; log file: "
                    f"restore.log; CRIU: vdso: Unexpected rt vDSO area bounds (log "
                    f"{tmp}/restore.log)")
