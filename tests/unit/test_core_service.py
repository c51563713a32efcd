"""The core's Service over fakes of the spawn machinery (tests/corefakes.py): no process runs.

Each refusal is one of the core's own errors (manager/core/errors.py), and a
failed operation leaves the model and the disk as they were. The same
operations against real runc are in tests/integration/.
"""

import asyncio
import json
import os
import signal

import pytest

from shim.contract import layout

import helpers
from corefakes import LIVE_PID, exit_process, run_core, shim_exits
from manager.core import model, service
from manager.core.errors import (AlreadyExists, InvalidArgument, NotFound, RuntimeFailed,
                                 WrongState)
from manager.server import bodies
from manager.spawn.launcher import LaunchError
from manager.spawn.runtime import RuntimeFailure


def stop(core, container):
    """Play the container's end: the init process exits 0, then its shim."""
    exit_process(core, container.init, 0)
    shim_exits(core, container.init)


# -- lookups and create ------------------------------------------------------

def test_a_malformed_id_is_invalid_and_an_unknown_one_is_not_found(tmp):
    async def scenario(core):
        with pytest.raises(InvalidArgument, match="invalid id '../x'"):
            core.service.container("../x")
        with pytest.raises(NotFound, match="no such container: c1"):
            core.service.container("c1")
        await core.create("c1")
        with pytest.raises(NotFound, match="no such exec in container c1: e9"):
            core.service.process("c1", "e9")
    run_core(tmp, scenario)


def test_create_writes_the_layout_launches_one_shim_and_publishes_create(tmp):
    async def scenario(core):
        container = await core.create("c1", args=["sleep", "9"], labels={"k": "v"})
        cdir = layout.container_dir(tmp, "c1")
        assert (container.dir, container.init.status, container.init.pid) == \
            (cdir, model.CREATED, LIVE_PID)
        argv, = core.spawn.launched
        assert (argv["id"], argv["proc_dir"], argv["start"]) == ("c1", f"{cdir}/init", False)
        with open(os.path.join(cdir, "bundle", "config.json")) as f:
            spec = json.load(f)
        assert spec["process"]["args"] == ["sleep", "9"]
        assert spec["linux"]["cgroupsPath"].endswith("-c1")  # not runc's shared /c1
        meta = layout.read_json(os.path.join(cdir, layout.CONTAINER_JSON))
        assert (meta["id"], meta["labels"], meta["auto_remove"]) == ("c1", {"k": "v"}, False)
        assert core.registry.by_dir(container.init.dir) is container.init  # tracked
        assert core.events() == [("create", "c1", None)]
    run_core(tmp, scenario)


def test_create_of_a_taken_id_is_already_exists_and_leaves_the_first_alone(tmp):
    async def scenario(core):
        first = await core.create("c1")
        with pytest.raises(AlreadyExists, match="create c1: a container with this id exists"):
            await core.create("c1")
        assert core.service.container("c1") is first and os.path.isdir(first.dir)
        # A directory nobody registered (another manager's?) takes the id as well.
        os.mkdir(layout.container_dir(tmp, "c2"))
        with pytest.raises(AlreadyExists):
            await core.create("c2")
        assert os.path.isdir(layout.container_dir(tmp, "c2")) and core.registry.get("c2") is None
        assert len(core.spawn.launched) == 1
    run_core(tmp, scenario)


def test_a_failed_launch_is_runtime_failed_and_leaves_nothing_behind(tmp):
    async def scenario(core):
        core.spawn.launch_error = LaunchError("runc create: exec: \"nope\": not found", 127)
        with pytest.raises(RuntimeFailed, match="not found") as caught:
            await core.create("c1", args=["nope"])
        assert caught.value.extra == {"exit_code": 127}
        assert core.registry.get("c1") is None
        assert not os.path.exists(layout.container_dir(tmp, "c1"))
        assert core.spawn.rt.calls == [("delete", "c1", True)]  # nor in runc's state
        assert core.events() == []
    run_core(tmp, scenario)


def test_a_tty_option_that_contradicts_the_bundle_is_invalid(tmp):
    bundle = os.path.join(tmp, "b")
    os.mkdir(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump({"process": {"terminal": True, "args": ["sh"]}}, f)

    async def scenario(core):
        opts = bodies.parse_create({"id": "c1", "bundle": bundle, "tty": False})
        with pytest.raises(InvalidArgument, match="tty=False but the bundle's process.terminal"):
            await core.service.create(opts)
        assert core.registry.get("c1") is None and core.spawn.launched == []
    run_core(tmp, scenario)


def test_create_with_start_runs_at_once_and_publishes_create_then_start(tmp):
    async def scenario(core):
        container = await core.create("c1", start=True)
        assert container.init.status == model.RUNNING and container.init.started_at
        assert core.spawn.launched[0]["start"] is True and core.spawn.rt.calls == []
        assert core.events() == [("create", "c1", None), ("start", "c1", None)]
    run_core(tmp, scenario)


# -- start -------------------------------------------------------------------

def test_start_needs_a_created_container(tmp):
    async def scenario(core):
        await core.run("c1")
        with pytest.raises(WrongState, match="start c1: container is running, not created"):
            await core.service.start("c1")
    run_core(tmp, scenario)


def test_a_failed_start_is_runtime_failed_and_the_container_stays_created(tmp):
    async def scenario(core):
        container = await core.create("c1")
        core.spawn.rt.fail["start"] = RuntimeFailure("runc start: cannot start")
        with pytest.raises(RuntimeFailed, match="runc start: cannot start"):
            await core.service.start("c1")
        assert container.init.status == model.CREATED and not container.init.hold_exit
        assert core.events() == [("create", "c1", None)]
    run_core(tmp, scenario)


def test_an_exit_during_start_is_published_after_the_start(tmp):
    async def scenario(core):
        container = await core.create("c1")
        core.spawn.rt.during["start"] = lambda cid: exit_process(core, container.init, 4)
        await core.service.start("c1")
        assert container.init.exit_code == 4
        assert core.events() == [("create", "c1", None), ("start", "c1", None),
                                 ("exit", "c1", None)]
    run_core(tmp, scenario)


# -- kill --------------------------------------------------------------------

def test_kill_goes_to_the_runtime_for_init_and_to_the_pid_for_an_exec(tmp):
    async def scenario(core):
        await core.run("c1")
        proc = await core.exec("c1", exec_id="e1")
        await core.service.kill("c1", signal.SIGTERM)
        await core.service.kill("c1", signal.SIGKILL, all_processes=True)
        await core.service.kill("c1", signal.SIGINT, exec_id="e1")
        assert core.spawn.rt.calls[-2:] == [("kill", "c1", signal.SIGTERM, False),
                                            ("kill", "c1", signal.SIGKILL, True)]
        assert core.spawn.signals == [(proc.pid, signal.SIGINT, "exec e1")]
    run_core(tmp, scenario)


def test_kill_of_a_stopped_or_vanished_process_is_wrong_state(tmp):
    async def scenario(core):
        container = await core.run("c1")
        await core.exec("c1", exec_id="e1")
        core.spawn.rt.fail["kill"] = ProcessLookupError("signal process 5: not running")
        with pytest.raises(WrongState, match="kill c1: signal process 5: not running"):
            await core.service.kill("c1", signal.SIGTERM)
        core.spawn.signal_error = ProcessLookupError("signal exec e1 5: not running")
        with pytest.raises(WrongState, match="exec e1 5: not running"):
            await core.service.kill("c1", signal.SIGTERM, exec_id="e1")
        with pytest.raises(NotFound, match="no such exec in container c1: e2"):
            await core.service.kill("c1", signal.SIGTERM, exec_id="e2")
        exit_process(core, container.init, 0)
        with pytest.raises(WrongState, match="kill c1: process is stopped"):
            await core.service.kill("c1", signal.SIGTERM)
    run_core(tmp, scenario)


def test_a_runtime_failure_to_kill_is_runtime_failed(tmp):
    async def scenario(core):
        await core.run("c1")
        core.spawn.rt.fail["kill"] = RuntimeFailure("runc kill: permission denied")
        with pytest.raises(RuntimeFailed, match="runc kill: permission denied"):
            await core.service.kill("c1", signal.SIGTERM)
    run_core(tmp, scenario)


# -- exec --------------------------------------------------------------------

def test_exec_writes_its_spec_and_runs_a_shim_on_it(tmp):
    async def scenario(core):
        container = await core.run("c1", env=["A=1"])
        first = await core.exec("c1", args=["echo", "hi"], env=["B=2"])
        second = await core.exec("c1")
        assert (first.exec_id, second.exec_id) == ("exec-1", "exec-2")
        assert first.status == model.RUNNING and container.execs["exec-1"] is first
        argv = core.spawn.launched[1]
        assert argv["proc_dir"] == first.dir == os.path.join(container.dir, "exec-1")
        process = layout.read_json(argv["process_file"])
        assert process["args"] == ["echo", "hi"] and process["env"][-2:] == ["A=1", "B=2"]
        assert core.events("start") == [("start", "c1", None), ("start", "c1", "exec-1"),
                                        ("start", "c1", "exec-2")]
    run_core(tmp, scenario)


def test_exec_needs_a_running_container_and_a_free_exec_id(tmp):
    async def scenario(core):
        await core.create("c1")
        with pytest.raises(WrongState, match="exec c1: container is created, not running"):
            await core.exec("c1")
        await core.service.start("c1")
        await core.exec("c1", exec_id="e1")
        with pytest.raises(AlreadyExists, match="exec c1: exec id e1 exists"):
            await core.exec("c1", exec_id="e1")
        with pytest.raises(NotFound):
            await core.exec("nope")
        assert len(core.spawn.launched) == 2
    run_core(tmp, scenario)


def test_a_failed_exec_launch_is_runtime_failed_and_leaves_no_exec(tmp):
    async def scenario(core):
        container = await core.run("c1")
        core.spawn.launch_error = LaunchError("exec failed: no such file", 127)
        with pytest.raises(RuntimeFailed, match="exec failed") as caught:
            await core.exec("c1", exec_id="e1")
        assert caught.value.extra == {"exit_code": 127}
        assert "e1" not in container.execs
        assert not os.path.exists(os.path.join(container.dir, "e1"))
        core.spawn.launch_error = None
        assert (await core.exec("c1", exec_id="e1")).status == model.RUNNING  # the id is free
    run_core(tmp, scenario)


# -- pause, resize, wait -----------------------------------------------------

def test_pause_and_resume_need_running_and_paused(tmp):
    async def scenario(core):
        container = await core.create("c1")
        with pytest.raises(WrongState, match="pause c1: container is created, not running"):
            await core.service.pause("c1")
        await core.service.start("c1")
        with pytest.raises(WrongState, match="resume c1: container is running, not paused"):
            await core.service.pause("c1", pause=False)
        core.spawn.rt.fail["pause"] = RuntimeFailure("runc pause: no freezer")
        with pytest.raises(RuntimeFailed, match="no freezer"):
            await core.service.pause("c1")
        assert container.init.status == model.RUNNING
        del core.spawn.rt.fail["pause"]
        await core.service.pause("c1")
        assert container.init.status == model.PAUSED
        await core.service.pause("c1", pause=False)
        assert container.init.status == model.RUNNING
        assert core.events("pause", "resume") == [("pause", "c1", None), ("resume", "c1", None)]
    run_core(tmp, scenario)


def test_resize_needs_a_live_terminal_and_a_writable_control_fifo(tmp):
    async def scenario(core):
        await core.run("plain")
        with pytest.raises(WrongState, match="resize plain: the process has no terminal"):
            core.service.resize("plain", 80, 24)
        container = await core.run("tty", tty=True)
        core.service.resize("tty", 80, 24)
        assert core.spawn.controls == [(container.init.dir, {"resize": [80, 24]})]
        core.spawn.control_error = RuntimeFailure("open control fifo: No such device")
        with pytest.raises(WrongState, match="open control fifo"):
            core.service.resize("tty", 90, 30)
        exit_process(core, container.init, 0)
        with pytest.raises(WrongState, match="resize tty: process is stopped"):
            core.service.resize("tty", 90, 30)
    run_core(tmp, scenario)


def test_wait_returns_the_exit_and_a_lost_shim_is_wrong_state(tmp):
    async def scenario(core):
        container = await core.run("c1")
        waiting = asyncio.ensure_future(core.service.wait("c1"))
        await asyncio.sleep(0)  # the waiter waits
        assert not waiting.done()
        exit_process(core, container.init, 3, oom_killed=True)
        assert await waiting == {"exit_code": 3, "exited_at": container.init.exited_at,
                                 "oom_killed": True}
        await core.run("c2")
        shim_exits(core, core.service.container("c2").init)  # without an exit status
        with pytest.raises(WrongState, match="wait c2: status is unknown"):
            await core.service.wait("c2")
    run_core(tmp, scenario)


# -- delete ------------------------------------------------------------------

def test_delete_needs_a_stopped_container_unless_forced(tmp):
    async def scenario(core):
        await core.run("c1")
        with pytest.raises(WrongState, match="delete c1: container is running; stop it first"):
            await core.service.delete("c1")
        assert core.service.container("c1").visible
    run_core(tmp, scenario)


def test_delete_removes_the_runtime_state_the_directory_and_the_id(tmp):
    async def scenario(core):
        container = await core.run("c1")
        stop(core, container)
        await core.service.delete("c1")
        assert core.spawn.rt.calls[-1] == ("delete", "c1", False)
        assert core.registry.get("c1") is None and not os.path.exists(container.dir)
        assert core.registry.by_dir(container.init.dir) is None  # untracked
        assert core.events()[-2:] == [("exit", "c1", None), ("delete", "c1", None)]
        await core.create("c1")  # the id is free again
    run_core(tmp, scenario)


def test_delete_waits_for_a_shim_that_still_drains_the_output(tmp):
    async def scenario(core):
        container = await core.run("c1")
        exit_process(core, container.init, 0)  # exited; its shim still writes output.log
        deleting = asyncio.ensure_future(core.service.delete("c1"))
        done, _ = await asyncio.wait([deleting], timeout=0.05)
        assert not done and ("delete", "c1", False) not in core.spawn.rt.calls
        assert os.path.isdir(container.dir)
        shim_exits(core, container.init)
        await asyncio.wait_for(deleting, 5)
        assert core.registry.get("c1") is None and not os.path.exists(container.dir)
    run_core(tmp, scenario)


def test_a_shim_that_outlives_the_wait_is_left_and_its_waiters_end(tmp, monkeypatch):
    monkeypatch.setattr(service, "SHIM_EXIT_TIMEOUT", 0.05)

    async def scenario(core):
        container = await core.run("c1")
        waiting = asyncio.ensure_future(core.service.wait("c1"))
        await core.service.delete("c1", force=True)  # the fake SIGKILL ends nothing
        with pytest.raises(WrongState, match=r"wait c1: status is unknown \(deleted\)"):
            await asyncio.wait_for(waiting, 5)
        assert core.registry.get("c1") is None and not os.path.exists(container.dir)
    run_core(tmp, scenario)


def test_a_runtime_failure_to_delete_is_runtime_failed_and_keeps_the_container(tmp):
    async def scenario(core):
        container = await core.run("c1")
        stop(core, container)
        core.spawn.rt.fail["delete"] = RuntimeFailure("runc delete: device busy")
        with pytest.raises(RuntimeFailed, match="device busy"):
            await core.service.delete("c1")
        assert core.service.container("c1") is container and os.path.isdir(container.dir)
        assert core.events("delete") == []
    run_core(tmp, scenario)


def test_force_delete_thaws_then_kills_everything_and_waits_for_the_shims(tmp):
    async def scenario(core):
        container = await core.run("c1")
        proc = await core.exec("c1", exec_id="e1")
        await core.service.pause("c1")
        exit_process(core, proc, 137)  # the exec was killed: its shim goes

        def killed(cid):
            """Play the runtime's SIGKILL: the init process and then its shim end."""
            shim_exits(core, proc)
            stop(core, container)
        core.spawn.rt.during["kill"] = killed
        await core.service.delete("c1", force=True)
        assert core.spawn.signals == [(proc.pid, signal.SIGKILL, "process")]
        assert core.spawn.rt.calls[-3:] == [("resume", "c1"),
                                            ("kill", "c1", signal.SIGKILL, True),
                                            ("delete", "c1", True)]
        assert core.registry.get("c1") is None and not os.path.exists(container.dir)
    run_core(tmp, scenario)


# -- auto-remove (--rm) ------------------------------------------------------

def test_an_exited_rm_container_is_removed_once_its_shim_is_gone(tmp):
    async def scenario(core):
        container = await core.run("c1", auto_remove=True)
        exit_process(core, container.init, 0)
        with pytest.raises(NotFound):  # gone for the API at once
            core.service.container("c1")
        shim_exits(core, container.init)
        await helpers.wait_until_async(lambda: core.registry.get("c1") is None, 5,
                                       what="c1 removed")
        assert not os.path.exists(container.dir)
        assert core.events()[-2:] == [("exit", "c1", None), ("delete", "c1", None)]
    run_core(tmp, scenario)


def test_an_exec_exit_does_not_remove_an_rm_container(tmp):
    async def scenario(core):
        container = await core.run("c1", auto_remove=True)
        proc = await core.exec("c1", exec_id="e1")
        exit_process(core, proc, 0)
        shim_exits(core, proc)
        await core.settle()
        assert core.service.container("c1") is container and not container.removing
    run_core(tmp, scenario)


def test_auto_remove_waits_for_the_attach_streams_and_a_create_of_the_id_waits_for_it(tmp):
    async def scenario(core):
        container = await core.run("c1", auto_remove=True)
        container.hold()  # an attach stream still reads the output
        stop(core, container)
        again = asyncio.ensure_future(core.create("c1"))
        done, _ = await asyncio.wait([again, *core.service._tasks], timeout=0.05)
        assert not done and core.registry.get("c1") is container  # neither went ahead
        container.release()
        fresh = await asyncio.wait_for(again, 5)
        assert fresh is not container and core.service.container("c1") is fresh
        assert core.events("delete", "create") == [("create", "c1", None),
                                                   ("delete", "c1", None),
                                                   ("create", "c1", None)]
    run_core(tmp, scenario)


def test_a_failed_auto_remove_leaves_the_container_visible_for_a_manual_delete(tmp):
    async def scenario(core):
        container = await core.run("c1", auto_remove=True)
        core.spawn.rt.fail["delete"] = RuntimeFailure("runc delete: device busy")
        stop(core, container)
        await core.settle()
        assert core.service.container("c1") is container and not container.removing
        assert container.init.status == model.STOPPED and core.events("delete") == []
        del core.spawn.rt.fail["delete"]
        await core.service.delete("c1")
        assert core.registry.get("c1") is None
    run_core(tmp, scenario)


def test_delete_exec_frees_an_ended_exec_and_refuses_a_running_one(tmp):
    async def scenario(core):
        container = await core.run("c1")
        proc = await core.exec("c1", exec_id="e1")
        with pytest.raises(WrongState, match="delete exec e1 of c1: it is running"):
            await core.service.delete_exec("c1", "e1")
        exit_process(core, proc, 3)
        await core.service.delete_exec("c1", "e1")
        assert "e1" not in container.execs and not os.path.exists(proc.dir)
        with pytest.raises(NotFound):
            await core.service.delete_exec("c1", "e1")
        again = await core.exec("c1", exec_id="e1")  # the id is free again
        assert again.status == model.RUNNING
    run_core(tmp, scenario)
