"""Run runtime commands through a helper process, so the manager's loop never forks.

CPython keeps the GIL while vfork() waits for the child's exec; on a busy
machine that wait was ~10 ms per runc call and ~20 ms per shim, and the
manager served nothing meanwhile (cProfile of 50 parallel lifecycles: 1.5 s
of a 4 s storm in _posixsubprocess.fork_exec). The helper (manager/spawn/helper.py,
`python -I -S`, stdlib only) forks for us, keeps a zygote shim to fork shims from, and
answers each request as one JSON line. If it is gone, commands and shims
start directly, and a new helper is started for the next.
"""

import asyncio
import base64
import json
import logging

from shim.contract import boot

log = logging.getLogger("tether.spawner")

ANSWER_LIMIT = 64 << 20  # `runc list` of thousands of containers is one line


class SpawnerGone(Exception):
    """The helper process is not there: the request was not sent; run it directly."""


class SpawnerLost(OSError):
    """The helper died after a request was sent: it may have run, so it is not retried."""


def spawner_command():
    """Return the argv of the helper: our interpreter, isolated, without site."""
    return boot.boot_command("manager.spawn.helper", "serve")


class Spawner:
    """The manager's side: send requests, match answers to waiting callers by id."""

    def __init__(self):
        self.process = None
        self.pending = {}
        self.serial = 0
        self.closed = False
        self._reader = None
        self._starting = None

    async def start(self):
        """Start the helper process."""
        self.process = await asyncio.create_subprocess_exec(
            *spawner_command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=ANSWER_LIMIT, start_new_session=True)
        self._reader = asyncio.ensure_future(self._read_answers(self.process))

    async def _read_answers(self, process):
        try:
            while True:
                line = await process.stdout.readline()
                if not line:
                    break
                reply = json.loads(line)
                waiter = self.pending.pop(reply.get("id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(reply)
        except (ValueError, asyncio.LimitOverrunError, ConnectionError) as err:
            log.error("read the spawner's answers: %s", err)
        finally:
            if self.process is process:
                self.process = None
            for waiter in self.pending.values():
                if not waiter.done():
                    waiter.set_exception(SpawnerLost("the spawner exited during the request"))
            self.pending.clear()
            await process.wait()

    def alive(self):
        """Return True while the helper can take requests."""
        return self.process is not None and self.process.returncode is None

    async def run(self, argv, timeout):
        """Run ARGV in the helper; return (status, stdout, stderr) or raise SpawnerGone/OSError."""
        reply = await self.request({"argv": list(argv), "timeout": timeout})
        return reply["status"], base64.b64decode(reply["out"]), base64.b64decode(reply["err"])

    async def start_shim(self, options, timeout):
        """Start a shim with OPTIONS; return (starter's status, start-up result line)."""
        reply = await self.request({"shim": list(options), "timeout": timeout})
        return reply["status"], reply["line"]

    async def ensure_started(self):
        """Start the helper unless it runs; SpawnerGone if it cannot be started."""
        if self.alive():
            return
        if self.closed:
            raise SpawnerGone("the spawner is stopped")
        if self._starting is None:  # one start for all the callers that found it gone
            self._starting = asyncio.ensure_future(self.start())
        try:
            await asyncio.shield(self._starting)
        except OSError as err:
            raise SpawnerGone(f"start the spawner: {err.strerror}") from err
        finally:
            self._starting = None

    async def request(self, request):
        """Send REQUEST (an id is added); return the answer, or raise SpawnerGone/OSError."""
        await self.ensure_started()
        process = self.process
        if process is None:  # it died as soon as it started
            raise SpawnerGone("the spawner exited at its start")
        self.serial += 1
        serial = self.serial  # others may take the next while we drain
        waiter = asyncio.get_running_loop().create_future()
        self.pending[serial] = waiter
        request = {"id": serial, **request}
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
        except ConnectionError as err:
            self.pending.pop(serial, None)
            raise SpawnerGone(f"write to the spawner: {err}") from err
        reply = await waiter
        if "error" in reply:
            raise OSError(reply["error"])
        return reply

    async def close(self):
        """Stop the helper (EOF on its stdin) and reap it."""
        self.closed = True
        process = self.process
        if process is not None and process.returncode is None:
            process.stdin.close()
        if self._reader is not None:
            await self._reader
