"""manager.core.usage: the update body's checks and the refusals (no processes)."""

import asyncio

import pytest

from manager.core import errors, model, usage


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
