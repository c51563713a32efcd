"""The spawner process: run the manager's commands and start its shims.

Requests are JSON lines on stdin, each run in a thread of its own:
- {"id": N, "argv": [...], "timeout": S}: run a command; answer
  {"id": N, "status": S, "out": B64, "err": B64};
- {"id": N, "shim": [options], "timeout": S}: start a shim with these options
  (`tether-shim --sync-fd N --fork-detach` is added) through the standby shim
  kept ready here, or directly; answer {"id": N, "status": S, "line": RESULT}
  with the shim's start-up result line (docs/shim.md).
Failures answer {"id": N, "error": "..."}. EOF on stdin (the manager stopped
or died) ends the spawner, and with it the standby (EOF on its pipe);
commands and shims already started go on (each in a session of its own).
"""

import base64
import json
import os
import select
import subprocess
import sys
import threading
import time

PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shim_command(entry="main"):
    """Return the argv prefix that runs the shim: our interpreter, isolated, without site."""
    # `python -I -S` skips site and the console script (an editable install's
    # finder among them): ~60 ms less per start, and no re-exec into a lean
    # interpreter later. The shim is stdlib only; BOOT puts its package first.
    boot = (f"import sys; sys.path[:0] = [{PARENT!r}]; "
            f"from shim.__main__ import {entry}; sys.exit({entry}())")
    return [sys.executable, "-I", "-S", "-c", boot]


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


class Standby:
    """A shim interpreter started ahead of need (imports done); it waits for its argv."""

    def __init__(self):
        self.read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            self.process = subprocess.Popen(
                shim_command("standby"), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(write_fd,), start_new_session=True)
        except OSError:
            os.close(self.read_fd)
            raise
        finally:
            os.close(write_fd)
        self.write_fd = write_fd  # the number the standby knows its sync fd by

    def hand_over(self, options):
        """Give the standby its argv; return False if it died before it could take it."""
        line = json.dumps([*options, "--sync-fd", str(self.write_fd), "--fork-detach"])
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.close()
        except BrokenPipeError:
            self.discard()
            return False
        return True

    def discard(self):
        """Let an unused standby go (EOF on its stdin) and reap it."""
        os.close(self.read_fd)
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait()


class Standbys:
    """Keep one standby shim ready; hand it out, start the next after."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = None

    def take(self):
        """Return the ready standby, or None if there is none (refill() makes the next)."""
        with self.lock:
            standby, self.ready = self.ready, None
        if standby is not None and standby.process.poll() is not None:
            standby.discard()
            standby = None
        return standby

    def refill(self):
        """Start a standby unless one is ready."""
        with self.lock:
            if self.ready is not None:
                return
        try:
            fresh = Standby()
        except OSError:
            return  # shims start directly until a standby can be made
        with self.lock:
            if self.ready is None:
                self.ready, fresh = fresh, None
        if fresh is not None:
            fresh.discard()


def start_shim(request, standbys):
    """Start a shim (through a standby when one is ready); return the answer fields."""
    options, timeout = request["shim"], request.get("timeout") or 120.0
    standby = standbys.take()
    if standby is not None and standby.hand_over(options):
        process, read_fd = standby.process, standby.read_fd
    else:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            process = subprocess.Popen(
                [*shim_command(), *options, "--sync-fd", str(write_fd), "--fork-detach"],
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
        process.kill()
        process.wait()
        return {"error": f"start shim: no start-up result within {timeout}s"}
    process.wait()  # the starter exits once the shim has forked away
    threading.Thread(target=standbys.refill, daemon=True).start()
    return {"status": process.returncode, "line": line}


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


def run_one(request, answer, standbys):
    """Run one request to its end and answer it."""
    reply = {"id": request.get("id")}
    try:
        if "shim" in request:
            reply.update(start_shim(request, standbys))
        else:
            reply.update(run_command(request))
    except (OSError, KeyError, TypeError, ValueError) as err:
        reply["error"] = getattr(err, "strerror", None) or str(err)
    answer(reply)


def serve():
    """Answer requests until stdin closes."""
    lock = threading.Lock()
    out = sys.stdout.buffer
    standbys = Standbys()
    threading.Thread(target=standbys.refill, daemon=True).start()

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
            threading.Thread(target=run_one, args=(request, answer, standbys),
                             daemon=True).start()
    return 0
