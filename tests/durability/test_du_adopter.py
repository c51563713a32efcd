"""The manager's rescue of a process whose shim was SIGKILLed (manager.core.adopter)."""

import asyncio
import fcntl
import os
import signal
import struct
import termios

import pytest

import helpers
import shimutil
from adoptutil import collect, process_of
from manager.core import adopter, adoption
from shim.contract import layout, pidexit


def queued(fd):
    """Return the bytes waiting in the pipe FD (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


def kill_shim(started):
    os.kill(started.shim_pid, signal.SIGKILL)
    shimutil.wait_shim_gone(started.shim_pid)


def test_du_rescue_adopts_with_the_stored_pipes(ticking):
    started, cid = ticking
    proc, rescuer = process_of(started, cid), adopter.Adopter()
    assert collect(rescuer, proc) == ["process", "stderr", "stdout"]
    kill_shim(started)
    logged = os.path.getsize(shimutil.output_log(started))
    decision = asyncio.run(rescuer.rescue(proc))
    assert decision.action == adoption.ADOPT
    assert proc.shim_pid != started.shim_pid and helpers.pid_alive(proc.shim_pid)
    assert len(rescuer.store) == 0  # the adopting shim holds them now
    helpers.wait_until(lambda: os.path.getsize(shimutil.output_log(started)) > logged + 500, 5,
                       what="output.log growing again")
    # collect() finds the pipes again, now in the adopting shim.
    assert collect(rescuer, proc) == ["process", "stderr", "stdout"]
    rescuer.store.close()
    os.kill(started.pid, signal.SIGTERM)
    status = shimutil.wait_exit_status(started.proc_dir)
    assert (status["exit_code"], status["adopted"]) == (5, True)
    shimutil.wait_shim_gone(proc.shim_pid)


def test_du_rescue_after_a_restart_adopts_without_output(ticking):
    started, cid = ticking
    proc, rescuer = process_of(started, cid), adopter.Adopter()
    kill_shim(started)  # nothing collected: the manager was down
    decision = asyncio.run(rescuer.rescue(proc))
    assert decision.action == adoption.ADOPT_OUTPUT_LOST and "lost" in decision.reason
    os.kill(started.pid, signal.SIGTERM)
    status = shimutil.wait_exit_status(started.proc_dir)
    assert status["exit_code"] == 5
    shimutil.wait_shim_gone(proc.shim_pid)


def test_du_rescue_drains_and_records_an_exit_that_happened_while_no_shim_lived(ticking):
    started, cid = ticking
    proc, rescuer = process_of(started, cid), adopter.Adopter()
    collect(rescuer, proc)
    kill_shim(started)
    stored = rescuer.store.get(adopter.key_of(proc))
    helpers.wait_until(lambda: queued(stored["stdout"]) > 0, 5, what="output while no shim lives")
    os.kill(started.pid, signal.SIGTERM)
    helpers.wait_until(lambda: pidexit.has_exited(stored["process"]), 5,
                       what="the container's exit")
    logged = os.path.getsize(shimutil.output_log(started))
    decision = asyncio.run(rescuer.rescue(proc))
    assert decision.action == adoption.ADOPT and decision.exited_at_observed
    status = shimutil.wait_exit_status(started.proc_dir)
    assert (status["exit_code"], status["exited_at_observed"]) == (5, True)
    shimutil.wait_shim_gone(proc.shim_pid)
    # What it wrote between the shim's death and its exit was drained into the log.
    assert os.path.getsize(shimutil.output_log(started)) > logged
    assert len(rescuer.store) == 0


def test_du_rescue_records_a_zombies_exit_without_stored_fds(ticking):
    started, cid = ticking
    proc, rescuer = process_of(started, cid), adopter.Adopter()
    kill_shim(started)
    os.kill(started.pid, signal.SIGTERM)
    helpers.wait_until(lambda: adopter.process_state(proc.pid, proc.starttime) != "alive", 5,
                       what="the container's exit")
    decision = asyncio.run(rescuer.rescue(proc))
    if decision.action == adoption.UNKNOWN:
        pytest.skip("pid 1 reaped the zombie before we looked")
    assert decision.action == adoption.RECORD_EXIT and decision.exited_at_observed
    assert layout.read_exit_status(started.proc_dir)["exit_code"] == 5


def test_du_rescue_says_unknown_when_nothing_saw_the_exit(ticking):
    started, cid = ticking
    proc, rescuer = process_of(started, cid), adopter.Adopter()
    kill_shim(started)
    os.kill(started.pid, signal.SIGKILL)
    # Reaped by pid 1 with no pidfd held: nobody can know the code any more.
    helpers.wait_until(lambda: adopter.process_state(proc.pid, proc.starttime) == "gone", 20,
                       what="the container reaped")
    decision = asyncio.run(rescuer.rescue(proc))
    assert decision.action == adoption.UNKNOWN and "not seen" in decision.reason
    assert layout.read_exit_status(started.proc_dir) is None
