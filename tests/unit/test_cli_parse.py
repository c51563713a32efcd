"""The CLI's fast parser agrees with argparse wherever it answers, and answers the plain
command lines (the others fall back to argparse: help, errors, unusual shapes)."""

import contextlib
import io
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manager.cli import main as cli, fastparse

PARSER = cli.build_parser()
NAMES = [n for c in cli.COMMANDS for n in [c[0], *c[1]]]
VALUES = ["c1", "x", "KILL", "9", "-9", "-", "", "a=b", "host", "none", "debug", "/r", "-x",
          "-it", "sh", "a b", "--", "é"]


def fast(argv):
    """Return the fast parser's answer as a dict (None: it leaves ARGV to argparse)."""
    opts = fastparse.parse(argv, cli.add_global_options, cli.COMMANDS)
    return None if opts is None else vars(opts)


def slow(argv):
    """Return argparse's answer as a dict (None: argparse refuses ARGV)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(PARSER.parse_args(argv))
        except SystemExit:
            return None


def tokens_of(name):
    """Return the option tokens of command NAME: exact, with =value, clusters, abbreviations."""
    add_options = fastparse.find_command(cli.COMMANDS, name)[3]
    names = sorted(fastparse.record(add_options).options())
    shorts = [n for n in names if not n.startswith("--")]
    longs = [n for n in names if n.startswith("--")]
    return (names + [n + "=v" for n in longs] + [n[:5] for n in longs]
            + ["-" + a[1] + b[1] for a in shorts for b in shorts] + ["-h", "--root"])


@st.composite
def command_lines(draw):
    """Draw a command line: global options, a command, then its options and values."""
    argv = draw(st.lists(st.sampled_from(["--root", "--socket", "--root=/g", "/s", "-q"]),
                         max_size=3))
    name = draw(st.sampled_from(NAMES))
    words = st.sampled_from(tokens_of(name)) | st.sampled_from(VALUES)
    return argv + [name] + draw(st.lists(words, max_size=8))


@st.composite
def well_formed_lines(draw):
    """Draw a mostly valid command line: options with fitting values, one run of positionals."""
    name = draw(st.sampled_from(NAMES))
    recorder = fastparse.record(fastparse.find_command(cli.COMMANDS, name)[3])
    items = []
    for argument in draw(st.lists(st.sampled_from(recorder.arguments or [None]), max_size=5)):
        if argument is None or argument.positional:
            continue
        option = draw(st.sampled_from(argument.names))
        value = draw(st.sampled_from(sorted(argument.choices or []) + VALUES[:4]))
        if not argument.takes_value:
            items.append([option])
        elif option.startswith("--") and draw(st.booleans()):
            items.append([f"{option}={value}"])
        else:
            items.append([option, value])
    run = draw(st.lists(st.sampled_from(VALUES[:5]), max_size=4))
    items.insert(draw(st.integers(0, len(items))), run)
    return [name] + [token for item in items for token in item]


@settings(max_examples=300, deadline=None)
@given(well_formed_lines() | command_lines())
def test_fast_parser_agrees_with_argparse(argv):
    answer = fast(argv)
    if answer is not None:
        assert answer == slow(argv)


@pytest.mark.parametrize("argv", [
    ["list"], ["ls", "-q"], ["--root", "/r", "list", "--json"], ["--root=/r", "state", "c1"],
    ["run", "-d", "c1", "--rootfs", "/fs", "--memory", "64m", "-e", "A=1", "--env", "B=2"],
    ["run", "--rm", "-it", "c1", "--bundle", "/b"], ["create", "c1", "-b", "/b", "-l", "k=v"],
    ["exec", "-it", "c1", "sh"], ["exec", "-d", "--exec-id", "e1", "c1", "true"],
    ["kill", "c1"], ["kill", "-a", "c1", "KILL"], ["kill", "c1", "9", "--exec-id=e1"],
    ["logs", "-f", "-n5", "--since", "10m", "-t", "c1"], ["wait", "c1"], ["rm", "-f", "c1"],
    ["resize", "c1", "80", "24"], ["events", "--json"], ["start", "c1"], ["attach", "c1"],
    ["daemon", "--log-level", "debug", "--detach"], ["spec", "--net", "host", "-u", "1:1"],
    ["pause", "c1"], ["resume", "c1"], ["run", "c1", "--rootfs", "/fs", "--cpus", "0.5"],
])
def test_plain_command_lines_take_the_fast_path(argv):
    answer = fast(argv)
    assert answer is not None
    assert answer == slow(argv)


@pytest.mark.parametrize("argv", [
    ["--help"], ["list", "-h"], ["list", "--js"], ["kill", "c1", "-9"], ["exec", "c1", "-d", "x"],
    ["run", "c1"], ["run", "c1", "-b", "/b", "--rootfs", "/r"], ["spec", "--net", "bridge"],
    ["resize", "c1", "80"], ["state"], ["bogus"], [], ["--root"], ["list", "--json=1"],
    ["--version=1", "list"], ["--root", "-r", "list"], ["-h", "list"], ["--ro", "/r", "list"],
])
def test_other_command_lines_are_left_to_argparse(argv):
    assert fast(argv) is None


def test_version_is_printed_without_argparse():
    probe = ("import sys; from manager.cli import main as cli; cli.parse_args(['--version']);"
             "print('not reached')")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "tether 0.1.0\n", "")


def test_a_declaration_the_fast_parser_does_not_know_leaves_it_to_argparse():
    recorder = fastparse.record(lambda p: p.add_argument("-v", action="count"))
    assert not recorder.plain
