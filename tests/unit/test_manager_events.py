"""The event bus: fan-out, replay of recent events, dropping a stalled subscriber."""

import asyncio

from shim.contract import layout
from manager.core import events


def test_fan_out_and_replay():
    async def scenario():
        bus = events.EventBus()
        old = bus.emit("exit", "a", time="2026-11-23T00:00:01Z", exit_code=3)
        bus.emit("exit", "b", time="2026-11-23T00:00:00Z", exit_code=4)
        replaying = bus.subscribe(since_ns=layout.parse_time("2026-11-23T00:00:01Z"))
        first = await replaying.__anext__()
        live = bus.subscribe()
        waiting = asyncio.ensure_future(live.__anext__())
        await asyncio.sleep(0)
        new = bus.emit("start", "c", pid=5)
        assert first == old
        assert await replaying.__anext__() == new
        assert await waiting == new
        await replaying.aclose()
        await live.aclose()
        assert bus.subscribers == 0
    asyncio.run(scenario())


def test_stalled_subscriber_is_dropped():
    async def scenario():
        bus = events.EventBus()
        sub = bus.subscribe()
        waiting = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0)
        for i in range(events.QUEUE_MAX + 2):
            bus.emit("start", f"c{i}")
        assert bus.subscribers == 0
        assert (await waiting)["id"] == "c0"
        await sub.aclose()
    asyncio.run(scenario())
