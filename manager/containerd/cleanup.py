"""The `delete` action: clean up a task from its files alone; print a DeleteResponse.

containerd runs it after every teardown (the serving process already deleted
the task: nothing is left, the answer is empty and fast) and when a serving
process is gone (the task's files are all there is). Then, for the init process:
1. If no exitStatus is written and its shim lives, kill the container
   (SIGKILL by pid, checked against its start time) and wait, through a pidfd,
   for the shim to exit: it writes exitStatus before it does.
2. Read the TRUE exit status and time from exitStatus (never an invented 137).
   Then finish the relay to ctr's file:// targets from output.log: what the
   serving process had not copied when it died (BUNDLE/tether-relay.json).
3. `runc delete --force`, unmount the rootfs mounts Create made, remove the
   container's directory and its pending mark.
4. Print DeleteResponse{pid, exit_status, exited_at}.
Each step tolerates the previous run of this action having done it already.
Only the stdlib and shim.contract are imported: this runs at every teardown.
"""

import os
import select
import signal
import sys

from shim.contract import layout, logformat

from manager.containerd import groups, messages, mounts

SHIM_EXIT_TIMEOUT = 10.0
RUNC = "runc"
RELAY_FILE = "tether-relay.json"  # relay.ProcessIO.relay_record, written by Create


def delete(flags):
    """Run `delete`; return the exit status."""
    task_id = flags["id"]
    bundle = flags.get("bundle") or os.getcwd()
    try:
        layout.validate_id(task_id)
        root = groups.group_root(flags["namespace"], groups.group_name(bundle))
        response = clean_task(root, task_id, bundle)
    except (OSError, ValueError, layout.StateError) as err:
        sys.stderr.write(f"containerd-shim-tether-v1 delete {task_id}: {err}\n")
        return 1
    sys.stdout.buffer.write(messages.DELETE_RESPONSE.encode(response))
    sys.stdout.flush()
    return 0


def clean_task(root, task_id, bundle):
    """Do steps 1-3 for TASK_ID in the group at ROOT; return the DeleteResponse dict."""
    cdir = layout.container_dir(root, task_id)
    proc_dir = os.path.join(cdir, layout.INIT)
    response = {"exited_at": {}}
    if os.path.isdir(proc_dir):
        status = end_process(proc_dir)
        pid = read_pid(proc_dir)
        response = {"pid": pid or 0, "exit_status": 0, "exited_at": {}}
        if status is not None:
            response["exit_status"] = status["exit_code"]
            response["exited_at"] = messages.timestamp_ns(layout.parse_time(status["exited_at"]))
        finish_relay(proc_dir, bundle)
    runc_root = os.path.join(root, layout.RUNTIME_ROOT)
    if os.path.exists(os.path.join(runc_root, task_id)):
        import subprocess  # not at every teardown: most find nothing left to delete
        subprocess.run([RUNC, "--root", runc_root, "delete", "--force", task_id],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    mounts.unmount_recorded(root, task_id)
    mounts.unmount_rootfs(bundle)
    if os.path.isdir(cdir):
        layout.remove_tree(cdir)
    try:
        os.unlink(groups.pending_path(root, task_id))
    except FileNotFoundError:
        pass
    return response


def read_pid(proc_dir):
    """Return the container process's pid, or None."""
    try:
        return layout.read_int(os.path.join(proc_dir, layout.PID))
    except layout.StateError:
        return None


def end_process(proc_dir):
    """Return the exitStatus of PROC_DIR, killing its live process first if needed."""
    status = layout.read_exit_status(proc_dir)
    if status is not None:
        return status
    try:
        shim_pid, shim_start = layout.read_shim_pid(proc_dir)
    except layout.StateError:
        return None
    pidfd = open_pidfd(shim_pid, shim_start)
    if pidfd is None:
        return layout.read_exit_status(proc_dir)
    try:
        pid = read_pid(proc_dir)
        start = read_starttime(proc_dir)
        if pid and layout.pid_alive(pid, start):
            os.kill(pid, signal.SIGKILL)
        select.select([pidfd], [], [], SHIM_EXIT_TIMEOUT)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    return layout.read_exit_status(proc_dir)


def read_starttime(proc_dir):
    """Return the container process's start time, or None."""
    try:
        return layout.read_int(os.path.join(proc_dir, layout.STARTTIME))
    except layout.StateError:
        return None


def open_pidfd(pid, starttime):
    """Return a pidfd of PID if it is still the process that started at STARTTIME."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    if not layout.pid_alive(pid, starttime):
        os.close(fd)
        return None
    return fd


def finish_relay(proc_dir, bundle):
    """Append to each file:// target the output its relay had not copied yet."""
    try:
        record = layout.read_json(os.path.join(bundle, RELAY_FILE))
    except layout.StateError:
        return  # none recorded (no file:// target), or already finished
    files, merged = record["files"], record["merged"]
    targets = {stream: "stdout" if merged and stream == "stderr" else stream
               for stream in ("stdout", "stderr")}
    skip, fds = {}, {}
    try:
        for stream, (path, base) in files.items():
            fds[stream] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            skip[stream] = os.fstat(fds[stream]).st_size - base  # relayed already
        for path in logformat.rotated_paths(proc_dir) + [os.path.join(proc_dir,
                                                                      layout.OUTPUT_LOG)]:
            try:
                with open(path, "rb") as f:
                    lines = f.read().split(b"\n")[:-1]  # a torn last line is no record
            except FileNotFoundError:
                continue
            for record in map(logformat.parse_record, lines):
                target = None if record is None else targets[record.stream]
                if target not in fds:
                    continue
                data = record.payload()
                if skip[target] >= len(data):
                    skip[target] -= len(data)
                    continue
                data, skip[target] = data[skip[target]:], 0
                while data:
                    data = data[os.write(fds[target], data):]
    finally:
        for fd in fds.values():
            os.close(fd)
    os.unlink(os.path.join(bundle, RELAY_FILE))
