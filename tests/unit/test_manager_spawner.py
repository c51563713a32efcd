"""The spawner: commands run in a helper process, answered by id, with a fallback."""

import asyncio
import os
import signal

import pytest

import helpers
from manager.spawn import helper_client


def run(scenario):
    return asyncio.run(scenario())


def test_commands_answer_status_and_both_streams():
    async def scenario():
        helper = helper_client.Spawner()
        await helper.start()
        try:
            return await asyncio.gather(
                helper.run(["sh", "-c", "echo out; echo err >&2; exit 3"], 10),
                helper.run(["true"], 10))
        finally:
            await helper.close()
    assert run(scenario) == [(3, b"out\n", b"err\n"), (0, b"", b"")]


def test_a_missing_binary_and_a_timeout_are_errors():
    async def scenario():
        helper = helper_client.Spawner()
        await helper.start()
        try:
            with pytest.raises(OSError, match="No such file"):
                await helper.run(["/no/such/binary"], 10)
            with pytest.raises(OSError, match="timed out after 0.2s"):
                await helper.run(["sleep", "5"], 0.2)
        finally:
            await helper.close()
    run(scenario)


def test_a_killed_helper_is_started_again_and_a_closed_one_refuses():
    async def scenario():
        helper = helper_client.Spawner()
        await helper.start()
        first = helper.process.pid
        try:
            helper.process.kill()
            await helpers.wait_until_async(lambda: not helper.alive(), 5,
                                           what="the reader to see the helper's EOF")
            assert await helper.run(["true"], 10) == (0, b"", b"")
            assert helper.process.pid != first
        finally:
            await helper.close()
        with pytest.raises(helper_client.SpawnerGone):
            await helper.run(["true"], 10)
    run(scenario)


def test_a_request_in_flight_when_the_helper_dies_fails_and_is_not_run_again(tmp_path):
    marker = tmp_path / "runs"

    async def scenario():
        helper = helper_client.Spawner()
        await helper.start()
        script = f"echo $$ >> {marker}; exec sleep 30"
        running = asyncio.ensure_future(helper.run(["sh", "-c", script], 60))
        try:
            await helpers.wait_until_async(marker.exists, 5,
                                           what="the command started in the helper")
            helper.process.kill()
            with pytest.raises(helper_client.SpawnerLost):
                await running
        finally:
            running.cancel()
            await helper.close()
    run(scenario)
    pids = marker.read_text().split()
    for pid in pids:  # it outlived the helper (a session of its own)
        os.kill(int(pid), signal.SIGKILL)
    assert len(pids) == 1  # run once: not again directly after the loss
