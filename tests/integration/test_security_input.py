"""Bad input through the CLI and the API: one clear line, exit 125 (or a 4xx), nothing left."""

import json
import os

import daemonutil
from cliutil import manager, tether  # noqa: F401  (fixtures)


def assert_one_line_125(result):
    rc, _out, err = result
    assert rc == 125, result
    assert err.count("\n") == 1 and err.startswith("tether: "), err


def nothing_left(manager):
    assert os.listdir(os.path.join(manager.root, "containers")) == []
    assert manager.tether("list", "--quiet")[1] == ""


ESCAPING_IDS = ["..", ".", "a/b", "../../etc", "a\nb", "x" * 65, "-x", ".hidden", "a b", "ü"]


def test_escaping_ids_are_refused_by_the_cli(tether, manager, rootfs):
    for cid in ESCAPING_IDS:
        assert_one_line_125(tether("create", f"--rootfs={rootfs}", "--", cid, "true")
                            if cid.startswith("-") else
                            tether("create", cid, "--rootfs", rootfs, "--", "true"))
        nothing_left(manager)


def test_escaping_exec_ids_are_refused(tether, manager, rootfs):
    assert tether("run", "-d", "c", "--rootfs", rootfs, "--", "sleep", "100000")[0] == 0
    before = sorted(os.listdir(os.path.join(manager.root, "containers", "c")))
    for eid in ["..", "a/b", "init", "x" * 65, "a\nb", "bundle"]:
        assert_one_line_125(tether("exec", "--exec-id", eid, "c", "--", "true"))
        assert sorted(os.listdir(os.path.join(manager.root, "containers", "c"))) == before
    assert manager.state("c")["processes"] == []


def broken_bundles(tmp, rootfs):
    """Yield bundle directories that must be refused."""
    cases = {"no-config": None, "malformed": b"{not json", "no-process": b'{"root": {}}',
             "args-not-list": json.dumps({"process": {"args": "sh"},
                                          "root": {"path": rootfs}}).encode()}
    for name, data in cases.items():
        path = os.path.join(tmp, name)
        os.mkdir(path)
        if data is not None:
            with open(os.path.join(path, "config.json"), "wb") as f:
                f.write(data)
        yield path
    yield os.path.join(tmp, "missing")


def test_missing_and_broken_bundles_leave_nothing(tether, manager, rootfs, tmp):
    for bundle in broken_bundles(tmp, rootfs):
        assert_one_line_125(tether("create", "b", "--bundle", bundle))
        nothing_left(manager)


def test_unknown_signals_are_refused(tether, manager, rootfs):
    assert tether("run", "-d", "c", "--rootfs", rootfs, "--", "sleep", "100000")[0] == 0
    for sig in ["SIGFOO", "0", "99999", "-9", "KILL9", ""]:
        assert_one_line_125(tether("kill", "c", sig))
    assert manager.state("c")["status"] == "running"


def test_wrong_state_operations_and_duplicate_ids(tether, manager, rootfs):
    assert tether("create", "c", "--rootfs", rootfs, "--", "sleep", "100000")[0] == 0
    assert_one_line_125(tether("create", "c", "--rootfs", rootfs, "--", "true"))
    assert_one_line_125(tether("resume", "c"))
    assert tether("start", "c")[0] == 0
    assert_one_line_125(tether("start", "c"))
    assert_one_line_125(tether("delete", "c"))
    assert_one_line_125(tether("resume", "c"))
    assert tether("kill", "c", "KILL")[0] == 0
    assert tether("wait", "c")[0] == 137
    assert_one_line_125(tether("pause", "c"))
    assert_one_line_125(tether("kill", "c"))
    assert tether("delete", "c")[0] == 0
    assert_one_line_125(tether("delete", "c"))
    nothing_left(manager)


def test_nul_in_ids_and_env_is_refused_by_the_api(manager, rootfs):
    d = daemonutil.Daemon(manager.root)
    for body in ({"id": "a\0b", "rootfs": rootfs}, {"id": "c", "rootfs": rootfs,
                                                    "env": ["A=\0"]}):
        status, answer = d.request("POST", "/v1/containers", body)
        assert status == 400 and "\n" not in answer["error"]
    nothing_left(manager)


def test_body_over_one_mib_is_refused_with_413(manager):
    body = b'{"id": "big", "labels": {"k": "' + b"x" * (1 << 20) + b'"}}'
    answer = daemonutil.raw_request(manager.socket, b"POST /v1/containers HTTP/1.1\r\n"
                                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert answer.startswith(b"HTTP/1.1 413 ")
    nothing_left(manager)


def test_non_ascii_digit_content_length_gets_400_not_a_dropped_connection(manager):
    # Found by hypothesis: "\xb2".isdigit() is true but int() refuses it; the
    # connection was closed without an answer.
    answer = daemonutil.raw_request(manager.socket, b"POST /v1/containers HTTP/1.1\r\n"
                                    b"Content-Length: \xb2\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_non_ascii_digit_tail_gets_400_not_500(tether, manager, rootfs):
    # Found by hypothesis: ?tail=%C2%B2 raised ValueError in the route: a 500.
    assert tether("run", "-d", "c", "--rootfs", rootfs, "--", "true")[0] == 0
    status, answer = daemonutil.Daemon(manager.root).request(
        "GET", "/v1/containers/c/logs?tail=%C2%B2")
    assert status == 400 and "tail" in answer["error"]
