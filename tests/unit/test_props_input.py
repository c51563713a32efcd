"""Property tests (hypothesis) over ids, signals, env, sizes, request heads and bodies.

Each property says what bad input may do: be refused with the one error type
the caller turns into a clear line (ValueError, BadRequest, HttpError,
ConfigError), never anything else, and never yield a path outside the root.
"""

import os
import signal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from manager.server import bodies, http
from manager.spawn import runtime
from shim import config, crilog
from shim.contract import layout

SETTINGS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
ROOT = "/run/tether-test"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) |
    st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
NASTY_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["..", ".", "a/b", "../x", "a\0b", "a\nb", "x" * 65, "-x", "_x", "",
                     "²", "١٢", "a b", "init", "bundle", "a..", "A" * 64]))


@SETTINGS
@given(NASTY_TEXT)
def test_ids_never_escape_the_root(value):
    try:
        path = layout.process_dir(ROOT, value, value)
    except ValueError:
        return
    assert layout.ID_RE.fullmatch(value) and len(value) <= 64
    assert not set(value) & {"/", "\0", "\n"} and value not in (".", "..")
    assert os.path.normpath(path) == path and path.startswith(ROOT + "/containers/")


@SETTINGS
@given(st.one_of(st.integers(), st.text(max_size=12), st.booleans(), st.none(),
                 st.floats(), st.lists(st.integers(), max_size=2)))
@example("²")
@example("SIG_DFL")
@example("sigkill")
def test_signals_are_a_number_in_range_or_a_value_error(value):
    try:
        number = runtime.parse_signal(value)
    except ValueError:
        return
    assert 1 <= number <= signal.SIGRTMAX and not isinstance(value, bool)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["id", "rootfs", "bundle", "args", "env", "cwd", "tty",
                                        "stdin", "labels", "console_size", "runtime",
                                        "log_max_size", "log_max_files", "exec_id", "signal",
                                        "all", "cols", "rows", "user", "hostname", "memory",
                                        "cpus", "pids_limit", "mounts", "net"]),
                       JSON | st.just("/tmp") | st.just(["sh"]) | st.just("c1"), max_size=8))
def test_request_bodies_parse_or_give_bad_request(body):
    for parse in (bodies.parse_create, bodies.parse_exec, bodies.parse_kill,
                  bodies.parse_resize):
        try:
            parsed = parse(body)
        except bodies.BadRequest as err:
            assert str(err) and "\n" not in str(err).strip()
            continue
        if parse is bodies.parse_create:
            assert layout.is_valid_id(parsed["id"])


@SETTINGS
@given(st.lists(st.text(max_size=20), max_size=5))
def test_env_entries_are_k_equals_v_without_nul(env):
    try:
        parsed = bodies.parse_exec({"args": ["true"], "env": env})["env"]
    except bodies.BadRequest:
        assert any("=" not in e or e.startswith("=") or "\0" in e for e in env)
        return
    assert all("=" in e and not e.startswith("=") and "\0" not in e for e in parsed)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["tail", "since", "follow", "force", "exec_id"]),
                       st.text(max_size=30), max_size=5))
@example({"tail": "²"})
@example({"tail": "all", "since": "2026-11-23T00:00:00.5Z", "exec_id": "e1"})
@example({"tail": "007", "since": "yesterday", "exec_id": "../x"})
def test_query_values_parse_or_give_bad_request(query):
    for key, parse in (("tail", bodies.parse_tail), ("since", bodies.parse_since)):
        text = query.get(key)
        try:
            value = parse(query)
        except bodies.BadRequest as err:
            # One line naming the query key, and only for a value that was given.
            assert text and f"invalid {key} " in str(err) and "\n" not in str(err)
            continue
        if value is None:  # absent, empty or (tail only) "all"
            assert text in (None, "") or (key == "tail" and text == "all")
        elif key == "tail":
            assert isinstance(value, int) and value >= 0 and text.isascii() and int(text) == value
        else:
            assert isinstance(value, int) and value == layout.parse_time(text)
    try:
        exec_id = bodies.parse_exec_id(query.get("exec_id"))
    except bodies.BadRequest as err:
        assert not layout.is_valid_id(query["exec_id"]) and "\n" not in str(err)
        return
    if exec_id is None:  # the init process
        assert query.get("exec_id") in (None, "")
    else:
        assert exec_id == query["exec_id"] and layout.is_valid_id(exec_id)


@SETTINGS
@given(st.binary(max_size=300))
@example(b"GET / HTTP/1.1\r\nContent-Length: \xb2")
@example(b"GET /v1/health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2")
def test_request_heads_parse_or_give_an_http_error(head):
    try:
        _method, _target, _version, headers = http.parse_head(head)
        length = http.body_length(headers)
    except http.HttpError as err:
        assert 400 <= err.status < 600 and err.status != 500
        return
    assert 0 <= length <= http.MAX_BODY


@SETTINGS
@given(st.integers(min_value=0, max_value=1 << 40))
def test_bodies_over_one_mib_are_refused(length):
    try:
        assert http.body_length({"content-length": str(length)}) == length
    except http.HttpError as err:
        assert err.status == 413 and length > http.MAX_BODY
        return
    assert length <= http.MAX_BODY


@SETTINGS
@given(st.text(max_size=12))
@example("²x3")
def test_console_sizes_parse_or_give_a_config_error(text):
    try:
        cols, rows = config.parse_console_size(text)
    except config.ConfigError:
        return
    assert 0 < cols < 65536 and 0 < rows < 65536


@SETTINGS
@given(st.text(max_size=12))
@example("²")
def test_shim_integer_flags_parse_or_give_a_config_error(text):
    try:
        assert config.parse_args(["--id", "c", "--bundle", "/", "--state-dir", "/tmp/x",
                                  "--runtime", "native", "--log-max-size", text]).log_max_size
    except config.ConfigError:
        pass


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from([b"stdout", b"stderr"]))
def test_log_framing_keeps_every_byte(data, stream):
    stamp = layout.format_time(1_700_000_000_123_456_789).encode()
    framed = b"".join(crilog.frame_chunk(stream, data, stamp))
    assert framed == b"".join(crilog.frame_records(stream, data, stamp))
    out = bytearray()
    for line in framed.split(b"\n")[:-1]:
        ts, got_stream, tag, text = line.split(b" ", 3)
        assert ts == stamp and got_stream == stream and tag in (b"F", b"P")
        out += text + (b"\n" if tag == b"F" else b"")
    assert bytes(out) == data
