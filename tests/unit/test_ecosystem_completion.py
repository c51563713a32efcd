"""Shell completion scripts: run the real bash function; check it against the argparse tree."""

import argparse
import os
import re
import shutil
import subprocess

import pytest

from manager.cli import main as cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASH_SCRIPT = os.path.join(REPO, "contrib", "completion", "tether.bash")
ZSH_SCRIPT = os.path.join(REPO, "contrib", "completion", "_tether")


def complete_bash(line, path=None):
    """Return COMPREPLY for the command LINE (the cursor at its end) from the real _tether."""
    script = ('source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");'
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _tether; printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=path or os.environ["PATH"])
    out = subprocess.run(["bash", "--norc", "-c", script, "_", BASH_SCRIPT, line], env=env,
                         capture_output=True, text=True, timeout=20, check=True)
    return [w for w in out.stdout.split("\n") if w]


def subcommands():
    """Return {name: parser} of tether's subcommands (aliases included)."""
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_commands():
    assert complete_bash("tether ") == list(subcommands())
    assert complete_bash("tether re") == ["resume", "resize"]
    assert complete_bash("tether --root /r de") == ["delete"]


def test_global_options():
    assert complete_bash("tether --") == ["--root", "--socket", "--version", "--help"]


@pytest.mark.parametrize("name", list(subcommands()))
def test_every_option_of_every_command_is_completed(name):
    parser = subcommands()[name]
    expected = {o for a in parser._actions for o in a.option_strings}
    assert set(complete_bash(f"tether {name} -")) == expected


@pytest.mark.parametrize("line,expected", [
    ("tether daemon --log-level ", ["debug", "info", "warning", "error"]),
    ("tether run x --net ", ["host", "none"]),
    ("tether create x --runtime n", ["native"]),
    ("tether kill c1 K", ["KILL"]),
    ("tether kill -a c1 ", ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP",
                            "CONT", "WINCH"]),
    ("tether run x --rootfs /r -- s", []),
    ("tether run x --memory ", []),
    ("tether logs --tail 5 c1 ", []),
])
def test_values_and_positionals(line, expected):
    assert complete_bash(line) == expected


def test_directories_for_paths(tmp):
    os.mkdir(os.path.join(tmp, "bundle-dir"))
    open(os.path.join(tmp, "file"), "w").close()
    assert complete_bash(f"tether run x --bundle {tmp}/") == [f"{tmp}/bundle-dir"]


def test_choices_in_the_script_match_the_parser():
    with open(BASH_SCRIPT) as f:
        text = f.read()
    daemon = subcommands()["daemon"]
    levels = next(a.choices for a in daemon._actions if "--log-level" in a.option_strings)
    assert f'"{" ".join(levels)}"' in text
    assert re.search(r'"host none"', text)


@pytest.mark.skipif(shutil.which("zsh") is None,
                    reason="zsh is not installed (apt-get install -y zsh; .ci/run installs it "
                           "only if the lead adds it): the zsh script is not checked")
def test_zsh_script_parses_and_autoloads():
    subprocess.run(["zsh", "-n", ZSH_SCRIPT], check=True, timeout=20)
    script = ('fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D; '
              'autoload -Uz _tether; print -r -- $_comps[tether]')
    out = subprocess.run(["zsh", "-f", "-c", script, "_", os.path.dirname(ZSH_SCRIPT)],
                         capture_output=True, text=True, timeout=20, check=True)
    assert out.stdout.strip() == "_tether"


def test_zsh_script_knows_every_command():
    with open(ZSH_SCRIPT) as f:
        text = f.read()
    for name, parser in subcommands().items():
        assert f"'{name}:" in text, name
        for option in (o for a in parser._actions for o in a.option_strings):
            assert re.search(rf"[{{',*]{re.escape(option)}[,}}\[]", text), (name, option)
