"""Pipe output survives SIGKILLs of the shim: every line in output.log once, in order.

The test plays the manager (manager.core.adopter, as the daemon's rescuer
does): it copies each shim's fds into the fd store, SIGKILLs the shim while
the container streams numbered lines, and has the adopter start the next
shim; again and again, each kill at a different point of the stream.
shim.contract.outkeep is what makes the bytes the killed shim had in hand
survive: this test fails on the shim that read them with a plain read.
"""

import asyncio
import os
import random
import signal

import helpers
import shimutil
from adoptutil import collect, process_of
from manager.core import adopter, adoption
from shim.contract import layout, logformat

LINES = 1_500_000  # 100-byte lines, 150 MB: a stream of a few seconds through the kills
PAD = "x" * 90
KILLS = 25


def logged_payload(proc_dir):
    """Return the stdout bytes of output.log: records parsed, partial records joined."""
    with open(os.path.join(proc_dir, layout.OUTPUT_LOG), "rb") as f:
        lines = f.read().split(b"\n")
    assert lines[-1] == b"", "output.log ends in a torn record"
    out = bytearray()
    for line in lines[:-1]:
        record = logformat.parse_record(line)
        assert record is not None, f"malformed record {line[:80]!r}"
        if record.stream == "stdout":
            out += record.payload()
    return bytes(out)


def ended(log_path):
    """Return True if output.log's last record holds the last line (cheap: its tail only)."""
    with open(log_path, "rb") as f:
        f.seek(max(os.fstat(f.fileno()).st_size - 1024, 0))
        lines = f.read().split(b"\n")[1:-1]  # the first may be cut by the seek
    records = [logformat.parse_record(line) for line in lines[-4:]]
    payload = b"".join(r.payload() for r in records if r is not None)
    return payload.endswith(b"\n%d %s\n" % (LINES, PAD.encode()))


def kept_actions(proc_dir):
    """Return the reconcile lines of every adopting shim (shim.log's "kept stdout: ...")."""
    with open(os.path.join(proc_dir, layout.SHIM_LOG), "rb") as f:
        return [line for line in f.read().decode(errors="replace").splitlines()
                if "kept stdout" in line]


def test_du_lines_survive_repeated_shim_sigkills_exactly_once_in_order(root, make_bundle):
    cid = f"du-keep-{os.getpid()}"
    # Numbered lines as fast as the shim takes them, then a pause before the
    # exit so that the last kill is not after the end.
    bundle = make_bundle(["sh", "-c", f"awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) "
                                      f"printf \"%d {PAD}\\n\", i }}'; exec sleep 30"])
    started = shimutil.start_shim(root, bundle, cid, "--start")
    proc, rescuer = process_of(started, cid), adopter.Adopter()
    rng = random.Random(14)
    log_path = os.path.join(started.proc_dir, layout.OUTPUT_LOG)
    shims = [started.shim_pid]
    try:
        for _ in range(KILLS):
            assert collect(rescuer, proc), "no fds collected"
            grown = os.path.getsize(log_path) + rng.randrange(20_000, 400_000)
            helpers.wait_until(lambda: os.path.getsize(log_path) >= grown or ended(log_path),
                               20, what="output.log growing")
            if ended(log_path):
                break  # the stream is over: a kill now tests nothing
            os.kill(proc.shim_pid, signal.SIGKILL)
            shimutil.wait_shim_gone(proc.shim_pid)
            decision = asyncio.run(rescuer.rescue(proc))
            assert decision.action == adoption.ADOPT, decision
            shims.append(proc.shim_pid)
        helpers.wait_until(lambda: ended(log_path), 30, what="every line logged")
        payload = logged_payload(started.proc_dir)
        got = payload.split(b"\n")[:-1]
        assert len(got) == LINES, f"{len(got)} lines logged, {LINES} written"
        pad = PAD.encode()
        wrong = next((i for i, line in enumerate(got) if line != b"%d %s" % (i + 1, pad)), None)
        assert wrong is None, f"line {wrong + 1} is {got[wrong]!r}: {got[wrong - 2:wrong + 3]}"
        actions = kept_actions(started.proc_dir)
        print(f"{len(shims) - 1} shim SIGKILLs, {LINES} lines each logged once in order; "
              f"reconciled: {sum('cut output.log' in a for a in actions)} cut, "
              f"{sum('consumed' in a for a in actions)} consumed, "
              f"{len(actions)} records found")
    except AssertionError:
        with open(os.path.join(started.proc_dir, layout.SHIM_LOG)) as f:
            print(f"{len(shims) - 1} kills; shim.log ends:", *f.readlines()[-15:], sep="\n")
        raise
    finally:
        rescuer.store.close()
        for pid in shims:
            helpers.kill_if_alive(pid)
        helpers.kill_if_alive(started.pid)
        helpers.wait_until(lambda: not helpers.pid_alive(started.pid), 10, what="container gone")
        shimutil.runc(root, "delete", "--force", cid, check=False)
