"""The event journal: numbering across restarts, torn lines, rotation, resume with after."""

import asyncio
import os

import pytest

from manager.core import events, journal


def exit_event(cid, code, when="2026-11-23T00:00:01.000000001Z"):
    return {"type": "exit", "id": cid, "exec_id": None, "time": when, "exit_code": code}


def test_numbers_go_on_after_a_reopen(tmp_path):
    first = journal.Journal(str(tmp_path))
    first.open()
    for i in range(3):
        first.append(exit_event(f"c{i}", i))
    first.close()  # as a SIGKILL leaves it: whole lines, no footer
    second = journal.Journal(str(tmp_path))
    second.open()
    second.append(exit_event("c3", 3))
    second.close()
    assert [(e["seq"], e["id"]) for e in second.events()] == \
        [(1, "c0"), (2, "c1"), (3, "c2"), (4, "c3")]
    assert os.stat(second.path).st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_skipped_and_stays_alone(tmp_path):
    j = journal.Journal(str(tmp_path))
    j.open()
    j.append(exit_event("a", 1))
    j.close()
    with open(j.path, "ab") as f:
        f.write(b'{"type": "exit", "id": "b", "se')  # power loss mid-line
    j = journal.Journal(str(tmp_path))
    j.open()
    j.append(exit_event("c", 2))
    j.close()
    assert [(e["seq"], e["id"]) for e in j.events()] == [(1, "a"), (2, "c")]


def test_rotation_keeps_one_old_file_and_the_numbering(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "MAX_SIZE", 300)
    j = journal.Journal(str(tmp_path))
    j.open()
    for i in range(20):
        j.append(exit_event(f"c{i}", i))
    kept = [e["seq"] for e in j.events()]
    assert kept == list(range(kept[0], 21)) and kept[0] > 1  # oldest dropped, no gap
    assert os.path.exists(j.old_path)
    j.close()
    again = journal.Journal(str(tmp_path))
    again.open()
    again.append(exit_event("x", 0))
    again.close()
    assert again.events()[-1]["seq"] == 21


def test_has_knows_exits_by_time_and_shim_loss_by_process(tmp_path):
    j = journal.Journal(str(tmp_path))
    j.open()
    j.append(exit_event("a", 3))
    j.append({"type": "shim-lost", "id": "b", "exec_id": "e1", "time": "2026-11-23T00:00:09Z"})
    assert j.has(exit_event("a", 3))
    assert not j.has(exit_event("a", 3, when="2026-11-23T00:00:02Z"))  # a later run of "a"
    assert j.has({"type": "shim-lost", "id": "b", "exec_id": "e1", "time": None})
    assert not j.has({"type": "shim-lost", "id": "b", "exec_id": None, "time": None})
    j.append(exit_event("z", 0))  # kept up to date once loaded
    j.close()
    assert j.has(exit_event("z", 0))


def test_a_subscriber_resumes_after_its_last_seq(tmp_path):
    async def scenario():
        j = journal.Journal(str(tmp_path))
        j.open()
        bus = events.EventBus(j)
        for i in range(4):
            bus.emit("start", f"c{i}")
        sub = bus.subscribe(after=2)
        bus.emit("exit", "c9", exit_code=1)
        got = [await sub.__anext__() for _ in range(3)]
        await sub.aclose()
        j.close()
        return [(e["seq"], e["id"]) for e in got]
    assert asyncio.run(scenario()) == [(3, "c2"), (4, "c3"), (5, "c9")]


@pytest.mark.parametrize("text", ["-1", "x", "1.5", "²", "9" * 21])
def test_after_must_be_a_seq(text):
    from manager.server import bodies
    with pytest.raises(bodies.BadRequest):
        bodies.parse_after({"after": text})
