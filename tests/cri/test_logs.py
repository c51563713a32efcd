"""Container logs where kubelet reads them: the pod's log directory, in the CRI format."""

import os

from . import crilog
from .node import MAX_LOG_LINE, wait_for

LONG = 40000  # over the runtime's line limit (MAX_LOG_LINE): written as P, P, F
WRITER = ["sh", "-c", f"seq 1 2000; echo err1 >&2; head -c {LONG} /dev/zero | tr '\\000' x;"
          " echo; echo err2 >&2; printf 'no newline at the end'"]


def lines_of(path):
    return crilog.reassemble(crilog.read(path))


def test_logs_every_line_both_streams_partial_lines(make_pod):
    pod = make_pod("logs")
    cid = pod.start("w", WRITER)
    assert pod.wait_exited(cid)["exit_code"] == 0
    path = pod.log_file("w")
    assert pod.client.container_state(cid)["log_path"] == path

    def complete():
        entries = crilog.read(path)
        texts = {text for _, _, _, text in entries}
        return {b"no newline at the end", b"err2"} <= texts and entries
    entries = wait_for(complete, 10, "both streams' last lines in the log")
    stamps = {}
    for stamp, stream, _, _ in entries:
        assert stamp >= stamps.get(stream, 0), "timestamps go back within a stream"
        stamps[stream] = stamp
    lines = crilog.reassemble(entries)
    assert lines["stdout"] == [str(i).encode() for i in range(1, 2001)] + \
        [b"x" * LONG, b"no newline at the end"]
    assert lines["stderr"] == [b"err1", b"err2"]
    long_entries = [(tag, len(text)) for _, stream, tag, text in entries
                    if stream == "stdout" and text.startswith(b"x")]
    assert long_entries == [("P", MAX_LOG_LINE), ("P", MAX_LOG_LINE),
                            ("F", LONG - 2 * MAX_LOG_LINE)]
    # A last line without its newline stays partial: containerd writes it as P.
    last = [(tag, text) for _, stream, tag, text in entries if stream == "stdout"][-1]
    assert last == ("P", b"no newline at the end")


# Writes lines 1-100, waits for /trigger/go, then 101-1100 paced over ~1 s, then exits.
ROTATED_WRITER = ["sh", "-c", "i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done;"
                  " while [ ! -e /trigger/go ]; do usleep 10000; done;"
                  " while [ $i -le 1100 ]; do echo line $i; i=$((i+1)); usleep 1000; done"]


def rotate(pod, cid, path, suffix):
    """Do what kubelet's log rotation does: rename the file away, then ReopenContainerLog."""
    rotated = f"{path}.{suffix}"
    os.rename(path, rotated)
    pod.client.call("ReopenContainerLog", container_id=cid)
    return rotated


def test_reopen_after_rotation_keeps_every_line(make_pod, tmp_path):
    pod = make_pod("rotate")
    trigger = tmp_path / "trigger"
    trigger.mkdir()
    cid = pod.start("w", ROTATED_WRITER, mounts=[(str(trigger), "/trigger")])
    path = pod.log_file("w")
    wait_for(lambda: os.path.exists(path) and len(crilog.read(path)) == 100, 10, "100 lines")
    first = rotate(pod, cid, path, "20261202-000000")
    (trigger / "go").touch()
    wait_for(lambda: os.path.exists(path) and len(crilog.read(path)) >= 300, 10, "300 more lines")
    second = rotate(pod, cid, path, "20261202-000001")
    assert pod.wait_exited(cid)["exit_code"] == 0

    expected = [f"line {i}".encode() for i in range(1, 1101)]
    assert lines_of(first)["stdout"] == expected[:100]
    # Lines written between the rename and the reopen land in the renamed file.
    later = [lines_of(second)["stdout"], lines_of(path).get("stdout", [])]
    assert later[0] and later[1], "both files after the second rotation have lines"
    assert later[0] + later[1] == expected[100:]
