"""Events to containerd: Events/Forward on TTRPC_ADDRESS, in order, each until it is answered.

One queue, one event in flight: containerd sees them in the order they were
published. An event is sent again only when the connection failed before its
answer came (containerd was down or restarting: the TaskExit it missed arrives
once it is back); an answer with an error status drops it (containerd refused
it; sending it again would not change that).
"""

import asyncio
import logging

from manager.containerd import messages, ttrpc

log = logging.getLogger("tether.containerd.events")

SERVICE = "containerd.services.events.ttrpc.v1.Events"
RETRY_FIRST, RETRY_MAX = 0.05, 1.0
CALL_TIMEOUT = 10.0


class Publisher:
    """Forward events to containerd's ttrpc socket at PATH for NAMESPACE."""

    def __init__(self, path, namespace):
        self.path = path
        self.namespace = namespace
        self.queue = asyncio.Queue()
        self.client = None
        self.sent = 0
        self.task = None

    def start(self):
        """Start the sending task."""
        self.task = asyncio.ensure_future(self._send_all())

    def publish(self, name, event, when=None):
        """Queue event NAME (a key of messages.EVENTS) with fields EVENT."""
        self.queue.put_nowait(messages.envelope(self.namespace, name, event, when))

    async def drain(self, timeout):
        """Wait up to TIMEOUT seconds for the queue to be sent."""
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except asyncio.TimeoutError:
            log.warning("%d events not delivered to containerd", self.queue.qsize())

    async def close(self):
        """Stop sending."""
        if self.task is not None:
            self.task.cancel()
        if self.client is not None:
            self.client.close()

    async def _send_all(self):
        while True:
            body = await self.queue.get()
            await self._send(body)
            self.sent += 1
            self.queue.task_done()

    async def _send(self, body):
        delay = RETRY_FIRST
        while True:
            try:
                if self.client is None:
                    self.client = await ttrpc.Client.connect(self.path)
                await self.client.call(SERVICE, "Forward", body, CALL_TIMEOUT)
                return
            except ttrpc.RpcError as err:
                log.error("containerd refused an event: %s", err)
                return
            except (OSError, ttrpc.Closed, asyncio.TimeoutError) as err:
                log.info("forward event to %s: %s (again in %.2f s)", self.path, err, delay)
                if self.client is not None:
                    self.client.close()
                    self.client = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
