"""Our reader of the kernel's inotify records (pyinotify keeps only the watches)."""

import asyncio
import os
import struct

import helpers
from manager.core import watch


def record(wd, mask, name=b""):
    padded = name + b"\0" * ((-len(name) % 16) or (16 if name else 0))
    return struct.pack("iIII", wd, mask, 0, len(padded)) + padded


def test_parse_events_reads_names_padding_and_nameless_records():
    data = record(1, 0x100, b"exitStatus") + record(2, 0x8000) + record(3, 0x40000100, b"e1")
    assert list(watch.parse_events(data)) == [(1, 0x100, "exitStatus"), (2, 0x8000, ""),
                                              (3, 0x40000100, "e1")]


def test_parse_events_stops_at_a_short_tail():
    assert list(watch.parse_events(record(1, 0x100, b"a") + b"\1\0")) == [(1, 0x100, "a")]


def test_exit_status_in_a_new_tree_is_seen_even_if_written_before_its_watch(tmp_path):
    seen = []

    async def scenario():
        exits = watch.ExitWatch(str(tmp_path), seen.append, lambda: None)
        exits.start()
        try:
            # Made at once, before the manager can add a watch on the new directories.
            proc_dir = tmp_path / "c1" / "init"
            os.makedirs(proc_dir)
            (proc_dir / "exitStatus").write_text("{}")
            await helpers.wait_until_async(lambda: seen, 5, what="the first exitStatus seen")
            later = tmp_path / "c1" / "e1"
            os.makedirs(later)
            await helpers.wait_until_async(lambda: len(exits.manager.watches) >= 4, 5,
                                           what="a watch on the new exec directory")
            (later / "exitStatus").write_text("{}")
            await helpers.wait_until_async(lambda: len(seen) >= 2, 5,
                                           what="the second exitStatus seen")
        finally:
            exits.close()
    asyncio.run(scenario())
    assert seen[:1] == [str(tmp_path / "c1" / "init")]
    assert str(tmp_path / "c1" / "e1") in seen
