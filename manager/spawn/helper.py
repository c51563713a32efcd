"""The spawner process: run the manager's commands and start its shims.

Requests are JSON lines on stdin, each run in a thread of its own:
- {"id": N, "argv": [...], "timeout": S}: run a command; answer
  {"id": N, "status": S, "out": B64, "err": B64};
- {"id": N, "shim": [options], "timeout": S}: start a shim with these options
  (`--sync-fd N --fork-detach` is added), forked by the zygote kept here, or
  started directly; answer {"id": N, "status": S or null, "line": RESULT} with
  the shim's start-up result line (docs/shim.md).
Failures answer {"id": N, "error": "..."}. EOF on stdin (the manager stopped
or died) ends the spawner, and with it the zygote (EOF on its socket);
commands and shims already started go on (each in a session of its own).
"""

import base64
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

from shim.contract import argv as argv_table, boot, zygotemsg


def shim_command(entry="main"):
    """Return the argv prefix that runs the shim's ENTRY (main or zygote): `python -I -S`."""
    return boot.boot_command("shim.__main__", entry)


def sync_options(write_fd):
    """Return the options that make a shim report to WRITE_FD and detach with one fork."""
    return argv_table.build_argv({"sync_fd": write_fd, "fork_detach": True})


def read_line(fd, timeout):
    """Read one line from the pipe FD within TIMEOUT seconds; None on timeout."""
    data, deadline = b"", time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace")


class Zygote:
    """The shim process every shim is forked from (shim.__main__.zygote)."""

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX,
                                         socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            self.process = subprocess.Popen(
                # The blank argument is room for the titles of the forked shims.
                [*shim_command("zygote"), *zygotemsg.zygote_args(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.lock = threading.Lock()

    def alive(self):
        """Return True while the zygote runs."""
        return self.process.poll() is None

    def fork_shim(self, options):
        """Ask for a shim; return the read end of its sync pipe, or None if we are gone."""
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            with self.lock:
                socket.send_fds(self.sock, [zygotemsg.encode_request(options)], [write_fd])
        except (OSError, ValueError):
            os.close(read_fd)
            return None
        finally:
            os.close(write_fd)
        return read_fd

    def close(self):
        """End the zygote (EOF on its socket) and reap it."""
        self.sock.close()
        self.process.wait()


class Zygotes:
    """Keep one zygote; start a new one when it is gone."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = None

    def get(self):
        """Return a live zygote, starting one if needed; None if none can be started."""
        with self.lock:
            if self.current is not None and not self.current.alive():
                self.current.close()
                self.current = None
            if self.current is None:
                try:
                    self.current = Zygote()
                except OSError:
                    return None
            return self.current


def answer_shim_request(request, zygotes):
    """Start a shim (forked by the zygote, else directly); return the answer fields."""
    options, timeout = request["shim"], request.get("timeout") or 120.0
    zygote, process = zygotes.get(), None
    read_fd = zygote.fork_shim(options) if zygote is not None else None
    if read_fd is None:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            process = subprocess.Popen(
                [*shim_command(), *options, *sync_options(write_fd)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(write_fd,), start_new_session=True)
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
    try:
        line = read_line(read_fd, timeout)
    finally:
        os.close(read_fd)
    if line is None:
        if process is not None:
            process.kill()
            process.wait()
        return {"error": f"start shim: no start-up result within {timeout}s"}
    status = process.wait() if process is not None else None  # the starter exits at once
    return {"status": status, "line": line}


def run_command(request):
    """Run a command to its end; return the answer fields."""
    try:
        done = subprocess.run(request["argv"], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=request.get("timeout"), start_new_session=True,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {request.get('timeout')}s"}
    return {"status": done.returncode, "out": base64.b64encode(done.stdout).decode(),
            "err": base64.b64encode(done.stderr).decode()}


def run_one(request, answer, zygotes):
    """Run one request to its end and answer it."""
    reply = {"id": request.get("id")}
    try:
        if "shim" in request:
            reply.update(answer_shim_request(request, zygotes))
        else:
            reply.update(run_command(request))
    except (OSError, KeyError, TypeError, ValueError) as err:
        reply["error"] = getattr(err, "strerror", None) or str(err)
    answer(reply)


def serve():
    """Answer requests until stdin closes."""
    lock = threading.Lock()
    out = sys.stdout.buffer
    zygotes = Zygotes()
    threading.Thread(target=zygotes.get, daemon=True).start()  # ready before the first create

    def answer(reply):
        line = json.dumps(reply).encode() + b"\n"
        with lock:
            out.write(line)
            out.flush()

    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if isinstance(request, dict):
            threading.Thread(target=run_one, args=(request, answer, zygotes),
                             daemon=True).start()
    return 0
