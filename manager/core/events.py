"""The event bus: lifecycle events fanned out to NDJSON subscribers."""

import asyncio
import collections
import logging

from shim.contract import layout

from manager.core import journal

log = logging.getLogger("tether.events")

TYPES = ("create", "start", "exit", "oom", "delete", "pause", "resume", "shim-lost",
         "output-lost")
QUEUE_MAX = 4096
HISTORY = 1000


class EventBus:
    """Fan events out to subscriber queues; a subscriber that falls behind is dropped.

    With a JOURNAL (manager.journal) every event is numbered and appended to
    it before any subscriber gets it; replays read the journal.
    """

    def __init__(self, journal=None):
        self.journal = journal
        self._queues = set()
        self.history = collections.deque(maxlen=HISTORY)  # without a journal
        self._seq = 0
        self.counts = collections.Counter()  # events published, by type (metrics)

    def emit(self, kind, container_id, exec_id=None, time=None, **extra):
        """Publish one event; TIME (RFC 3339) defaults to now."""
        event = {"type": kind, "id": container_id, "exec_id": exec_id,
                 "time": time or layout.format_time(layout.now_ns())}
        event.update(extra)
        if self.journal is None:
            self._seq += 1
            event["seq"] = self._seq
            self.history.append(event)
        else:
            try:
                self.journal.append(event)
            except journal.JournalError as err:
                log.error("journal event %s %s: %s", kind, container_id, err)
        self.counts[kind] += 1
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A stalled reader must not grow the manager's memory without bound.
                log.warning("drop an events subscriber: %d events behind", QUEUE_MAX)
                self._queues.discard(queue)
        # Logged after the subscribers were woken: the log line is not on their path.
        log.info("event %s %s%s", kind, container_id, f" exec {exec_id}" if exec_id else "",
                 extra={"container": container_id, "exec_id": exec_id})
        return event

    def published(self, event):
        """Return True if an end event like EVENT (exit, oom, shim-lost) was journaled."""
        return self.journal is not None and self.journal.has(event)

    def subscribe(self, since_ns=None, after=None):
        """Return a Subscription: kept events with seq > AFTER and time >= SINCE_NS, then live."""
        replay = []
        if since_ns is not None or after is not None:
            kept = list(self.history) if self.journal is None else self.journal.events()
            replay = [e for e in kept if (after is None or e["seq"] > after) and
                      (since_ns is None or layout.parse_time(e["time"]) >= since_ns)]
        queue = asyncio.Queue(QUEUE_MAX)
        # Registered in the same step as the replay was read (no await between):
        # nothing published after the subscribe call is missed or repeated.
        self._queues.add(queue)
        return Subscription(self, queue, replay)

    def unsubscribe(self, queue):
        """Stop delivering to QUEUE."""
        self._queues.discard(queue)

    def is_subscribed(self, queue):
        """Return True while QUEUE still receives events."""
        return queue in self._queues

    @property
    def subscribers(self):
        """Return the number of live subscribers."""
        return len(self._queues)


class Subscription:
    """An async iterator over one subscriber's events; aclose() unsubscribes."""

    def __init__(self, bus, queue, replay):
        self.bus = bus
        self.queue = queue
        self.replay = collections.deque(replay)

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.replay:
            return self.replay.popleft()
        if not self.bus.is_subscribed(self.queue) and self.queue.empty():
            raise StopAsyncIteration
        return await self.queue.get()

    async def aclose(self):
        """Unsubscribe."""
        self.bus.unsubscribe(self.queue)
