"""One manager fixture: a real `tether daemon` on a test root, started, awaited, stopped.

cliutil.Manager (the CLI suites) and daemonutil.Daemon (the HTTP suites, chaos,
fuzz) are this class with their front end's helpers on top; both start the
manager through the installed entry point, as a user does.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys

import helpers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The interpreter running the tests: contrib/check-pythons runs the suite
# under other Python versions, and the manager must run under the same one.
PYTHON = sys.executable
BIN_DIR = os.path.dirname(os.path.abspath(PYTHON))
# The installed console script, so that the real entry point is what runs.
TETHER = (os.path.join(BIN_DIR, "tether") if os.path.exists(os.path.join(BIN_DIR, "tether"))
          else None)
TETHER_ARGV = [TETHER] if TETHER else [PYTHON, "-m", "manager.cli.main"]
START_TIMEOUT = 20
LOG_TAIL = 4000  # of the manager's log in a failure message


class UnixConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path, timeout=30):
        super().__init__("tether", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def socket_answers(path):
    """Return True if a unix socket at PATH accepts a connection."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        return False
    finally:
        sock.close()
    return True


def daemon_flags(options):
    """Return `tether daemon` flags for run()'s keyword OPTIONS (socket_group="g" ...)."""
    flags = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value not in (None, False):
            flags += [flag, str(value)]
    return flags


class ManagerProcess:
    """A `tether daemon` subprocess on ROOT: start, wait until it answers, kill, restart."""

    def __init__(self, root, log_path=None, flags=(), env=None, **options):
        self.root = root
        self.socket = os.path.join(root, "tether.sock")
        self.log_path = log_path or os.path.join(os.path.dirname(root), "manager.log")
        self.argv = [*TETHER_ARGV, "--root", root, "daemon", *flags, *daemon_flags(options)]
        self.env = None if env is None else {**os.environ, **env}
        self.proc = None

    def start(self, wait=True):
        """Start the manager (WAIT: until it answers /v1/health); return self."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.env)
        if wait:
            helpers.wait_until(self.answers, START_TIMEOUT, what="the manager answers /v1/health")
        return self

    def answers(self):
        """Return True if the manager answers /v1/health; fail if it died."""
        if self.proc.poll() is not None:
            raise AssertionError(f"the manager exited with {self.proc.returncode}:\n"
                                 f"{self.log()[-LOG_TAIL:]}")
        try:
            return self.request("GET", "/v1/health")[0] == 200
        except OSError:
            return False

    ready = answers

    def log(self):
        """Return the manager's output so far."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        """Send SIG (default SIGKILL) to the manager if it runs, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self):
        """SIGTERM the manager, reap it; return its exit status."""
        self.kill(signal.SIGTERM)
        return self.proc.returncode

    def restart(self):
        """SIGKILL the manager and start it again."""
        self.kill()
        return self.start()

    def connection(self, timeout=30):
        """Return a new HTTP connection to the manager."""
        return UnixConnection(self.socket, timeout)

    def request(self, method, path, body=None, timeout=30, headers=None):
        """Send one request; return (status, decoded JSON body or raw bytes)."""
        conn = self.connection(timeout)
        try:
            data = body if isinstance(body, bytes) or body is None else json.dumps(body)
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw

    def ok(self, method, path, body=None, status=(200, 201, 204), timeout=30):
        """Send a request that must succeed; return its JSON body."""
        code, answer = self.request(method, path, body, timeout)
        assert code in status, f"{method} {path}: {code} {answer}"
        return answer

    def stream(self, path, timeout=30):
        """Open a streaming GET; return (connection, response) for reading NDJSON lines."""
        conn = self.connection(timeout)
        conn.request("GET", path)
        return conn, conn.getresponse()

    def remove_all(self):
        """Force-delete every container the manager knows."""
        for c in self.ok("GET", "/v1/containers"):
            self.request("DELETE", f"/v1/containers/{c['id']}?force=1")

    delete_all = remove_all


def run_manager(manager, stop_signal=signal.SIGTERM):
    """Yield MANAGER started; afterwards force-delete its containers, stop it with STOP_SIGNAL."""
    manager.start()
    try:
        yield manager
    finally:
        try:
            if manager.proc.poll() is None:
                manager.remove_all()
        finally:
            manager.kill(stop_signal)
