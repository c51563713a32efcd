"""cleanup.finish_relay: what the serving process had not relayed to file:// targets."""

import os

from manager.containerd import cleanup
from shim.contract import layout

STAMP = b"2026-12-03T08:00:00.000000000Z"


def write_log(proc_dir, records, name=layout.OUTPUT_LOG):
    """Write output.log (or NAME) with RECORDS: (stream, tag, text) each."""
    with open(os.path.join(proc_dir, name), "wb") as f:
        for stream, tag, text in records:
            f.write(b"%s %s %s %s\n" % (STAMP, stream, tag, text))


def prepare(tmp_path, records, files, merged, rotated=()):
    proc_dir, bundle = tmp_path / "init", tmp_path / "bundle"
    proc_dir.mkdir()
    bundle.mkdir()
    if rotated:
        write_log(proc_dir, rotated, layout.OUTPUT_LOG + ".1")
    write_log(proc_dir, records)
    layout.write_json(os.path.join(bundle, cleanup.RELAY_FILE),
                      {"files": files, "merged": merged}, durable=False)
    return str(proc_dir), str(bundle)


def test_the_rest_is_appended_after_what_was_relayed_and_the_record_goes(tmp_path):
    target = tmp_path / "out.log"
    target.write_bytes(b"old\n" + b"one\ntw")  # 4 bytes before the task, 6 relayed
    proc_dir, bundle = prepare(tmp_path, [(b"stdout", b"F", b"two"), (b"stdout", b"P", b"thr")],
                               {"stdout": [str(target), 4]}, True,
                               rotated=[(b"stdout", b"F", b"one")])
    cleanup.finish_relay(proc_dir, bundle)
    assert target.read_bytes() == b"old\none\ntwo\nthr"
    assert not os.path.exists(os.path.join(bundle, cleanup.RELAY_FILE))
    cleanup.finish_relay(proc_dir, bundle)  # a second delete: nothing twice
    assert target.read_bytes() == b"old\none\ntwo\nthr"


def test_merged_streams_count_together_separate_ones_apart(tmp_path):
    records = [(b"stdout", b"F", b"a"), (b"stderr", b"F", b"b"), (b"stdout", b"F", b"c")]
    merged = tmp_path / "m"
    merged.mkdir()
    both = tmp_path / "both.log"
    both.write_bytes(b"a\n")
    cleanup.finish_relay(*prepare(merged, records, {"stdout": [str(both), 0]}, True))
    assert both.read_bytes() == b"a\nb\nc\n"
    apart = tmp_path / "s"
    apart.mkdir()
    out, err = tmp_path / "o.log", tmp_path / "e.log"
    out.write_bytes(b"a\n")
    err.write_bytes(b"")
    cleanup.finish_relay(*prepare(apart, records, {"stdout": [str(out), 0],
                                                   "stderr": [str(err), 0]}, False))
    assert (out.read_bytes(), err.read_bytes()) == (b"a\nc\n", b"b\n")


def test_a_stream_without_a_file_target_is_left_alone(tmp_path):
    target = tmp_path / "out.log"
    target.write_bytes(b"")
    records = [(b"stderr", b"F", b"to a fifo"), (b"stdout", b"F", b"x")]
    cleanup.finish_relay(*prepare(tmp_path, records, {"stdout": [str(target), 0]}, False))
    assert target.read_bytes() == b"x\n"


def test_no_record_no_change(tmp_path):
    (tmp_path / "init").mkdir()
    cleanup.finish_relay(str(tmp_path / "init"), str(tmp_path))  # nothing to do, no error
