"""Unit tests of the CLI's argument checks and output formatting (pure functions)."""

import argparse
import signal

import pytest

from manager.cli import main as cli, checks, commands
from shim.contract import layout


@pytest.mark.parametrize("text,number", [
    ("TERM", 15), ("SIGTERM", 15), ("term", 15), ("kill", 9), ("9", 9), ("1", 1),
    ("SIGUSR1", int(signal.SIGUSR1)), (str(int(signal.SIGRTMAX)), int(signal.SIGRTMAX)),
])
def test_parse_signal_accepts_names_and_numbers(text, number):
    assert checks.parse_signal(text) == number


@pytest.mark.parametrize("text", ["0", "65", "NOPE", "SIG", "", "-9", "9x", "SIGTERM2"])
def test_parse_signal_refuses_unknown(text):
    with pytest.raises(ValueError, match="invalid signal"):
        checks.parse_signal(text)


@pytest.mark.parametrize("text,ns", [
    ("10s", 10 * 10**9), ("1h30m", 5400 * 10**9), ("1.5s", 1_500_000_000),
    ("250ms", 250 * 10**6), ("2d", 2 * 86400 * 10**9),
])
def test_parse_duration(text, ns):
    assert checks.parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "1h 2m", "-5s", "5s3"])
def test_parse_duration_refuses_malformed(text):
    with pytest.raises(ValueError):
        checks.parse_duration_ns(text)


def test_parse_since_takes_a_time_or_a_duration():
    now = layout.parse_time("2026-11-23T01:00:00Z")
    assert checks.parse_since("10m", now) == "2026-11-23T00:50:00.000000000Z"
    assert checks.parse_since("2026-11-23T00:33:29.5Z", now) == \
        "2026-11-23T00:33:29.500000000Z"
    with pytest.raises(ValueError, match="invalid --since"):
        checks.parse_since("yesterday", now)


def test_parse_labels_and_env():
    assert checks.parse_labels(["a=1", "b=", "c=x=y"]) == {"a": "1", "b": "", "c": "x=y"}
    assert checks.parse_env(["A=1", "B="]) == ["A=1", "B="]
    for bad in (["a"], ["=1"]):
        with pytest.raises(ValueError, match="--label"):
            checks.parse_labels(bad)
        with pytest.raises(ValueError, match="--env"):
            checks.parse_env(bad)


@pytest.mark.parametrize("argv,message", [
    (["state", "bad/id"], "invalid container id 'bad/id'"),
    (["kill", "c1", "NOPE"], "invalid signal 'NOPE'"),
    (["wait", "c1", "--exec-id", "init"], "reserved for the init process"),
    (["logs", "c1", "--tail", "x"], "invalid --tail 'x'"),
    (["resize", "c1", "0", "24"], "invalid COLS '0'"),
    (["exec", "c1"], "missing the command"),
    (["run", "c1", "--bundle", "/b", "--", "sh"], "ARGS need --rootfs"),
    (["run", "c1", "--bundle", "/b", "--env", "A=1"], "--env and --cwd need --rootfs"),
])
def test_check_refuses_bad_input(argv, message):
    opts = cli.parse_args(argv)
    with pytest.raises(cli.UsageError) as info:
        cli.check_opts(opts)
    assert message in str(info.value)


def test_parser_errors_are_one_line_and_exit_125(capsys):
    with pytest.raises(SystemExit) as info:
        cli.parse_args(["state", "c1", "-x"])
    assert info.value.code == 125
    assert capsys.readouterr().err == "tether: unrecognized arguments: -x\n"


def test_args_after_double_dash_are_verbatim():
    opts = cli.parse_args(["exec", "c1", "--", "sh", "-c", "echo --rm -t"])
    assert opts.args == ["sh", "-c", "echo --rm -t"]
    assert not opts.tty
    opts = cli.parse_args(["--root", "/r", "run", "c1", "--rootfs", "/fs", "--", "ls", "-l"])
    assert (opts.args, opts.socket) == (["ls", "-l"], "/r/tether.sock")


def test_every_command_has_a_description_and_an_example():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        assert p.description, name
        assert p.epilog.startswith("example:\n  tether "), name


def test_format_table_aligns_columns():
    states = [{"id": "a", "status": "running", "pid": 42, "exit_code": None,
               "created_at": "2026-11-23T00:33:29.123456789Z", "bundle": "/b"},
              {"id": "longer-id", "status": "stopped", "pid": None, "exit_code": 7,
               "created_at": "2026-11-23T00:33:30.000000000Z", "bundle": "/c"}]
    lines = commands.format_table(states).splitlines()
    assert lines[0].split() == list(commands.TABLE_COLUMNS)
    assert lines[1].split() == ["a", "running", "42", "-", "2026-11-23T00:33:29Z", "/b"]
    assert lines[2].split() == ["longer-id", "stopped", "-", "7", "2026-11-23T00:33:30Z", "/c"]
    assert lines[1].index("running") == lines[2].index("stopped")


@pytest.mark.parametrize("chunks,expected", [
    ([b"a\nb\n"], b"T a\nT b\n"),
    ([b"par", b"tial\n", b"next"], b"T partial\nT next"),
    ([b"\n\n"], b"T \nT \n"),
])
def test_log_printer_prefixes_each_line(chunks, expected):
    printer = commands.LogPrinter(timestamps=True)
    out = b"".join(printer.prefix_lines("stdout", c, "T") for c in chunks)
    assert out == expected


def test_format_event():
    line = commands.format_event({"type": "exit", "id": "c1", "exec_id": None,
                                      "time": "T", "exit_code": 3})
    assert line == "T exit c1 exit_code=3"
