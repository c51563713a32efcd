"""What the adopter's tests share: a stand-in process and the fd collection."""

import os
import types

from shim.contract import layout, pidexit


def process_of(started, cid):
    """A stand-in for model.Process with what the adopter reads."""
    container = types.SimpleNamespace(id=cid, log={})
    return types.SimpleNamespace(
        container=container, name=layout.INIT, dir=started.proc_dir, pid=started.pid,
        starttime=layout.proc_starttime(started.pid), shim_pid=started.shim_pid,
        shim_starttime=layout.proc_starttime(started.shim_pid))


def collect(rescuer, proc):
    """Copy PROC's live shim's fds into RESCUER's store; return the names collected."""
    pidfd = pidexit.open_pidfd(proc.shim_pid, proc.shim_starttime)
    try:
        return rescuer.collect(proc, pidfd)
    finally:
        os.close(pidfd)
