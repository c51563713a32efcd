"""The shim's command line and process-spec loading."""

import json
import os

import pytest

from shim import config

BASE = ["--id", "c", "--bundle", "/b", "--state-dir", "/r/containers/c/init"]


def test_defaults():
    cfg = config.parse_args(BASE)
    assert (cfg.id, cfg.bundle, cfg.proc_dir) == ("c", "/b", "/r/containers/c/init")
    assert cfg.runtime == "runc" and cfg.runtime_path.endswith("/runc")
    assert not (cfg.tty or cfg.stdin or cfg.start or cfg.exec or cfg.foreground)
    assert cfg.log_max_size is None and cfg.sync_fd is None and cfg.console_size is None


def test_all_flags_and_equals_form():
    cfg = config.parse_args(BASE + ["--runtime=native", "--runtime-root", "/rr", "--tty",
                                    "--stdin", "--console-size=120x40", "--log-max-size",
                                    "4096", "--log-max-files", "3", "--foreground",
                                    "--sync-fd", "2"])
    assert cfg.runtime == "native" and cfg.runtime_path is None
    assert cfg.runtime_root == "/rr" and cfg.console_size == (120, 40)
    assert (cfg.log_max_size, cfg.log_max_files, cfg.sync_fd) == (4096, 3, 2)


def test_exec_implies_start():
    cfg = config.parse_args(BASE + ["--exec", "--process", "/p.json"])
    assert cfg.exec and cfg.start


def test_log_max_files_defaults_to_one():
    assert config.parse_args(BASE + ["--log-max-size", "10"]).log_max_files == 1


@pytest.mark.parametrize("extra,text", [
    (["--bogus"], "unknown argument"),
    (["--tty=1"], "takes no value"),
    (["--sync-fd"], "needs a value"),
    (["--sync-fd", "x"], "expected a non-negative integer"),
    (["--sync-fd", "987"], "--sync-fd 987: not an open file descriptor"),
    (["--console-size", "80"], "expected COLSxROWS"),
    (["--tty", "--console-size", "0x24"], "out of range"),
    (["--console-size", "80x24"], "needs --tty"),
    (["--exec"], "--exec needs --process"),
    (["--process", "/p"], "only for --exec"),
    (["--log-max-files", "2"], "needs --log-max-size"),
    (["--log-max-size", "0"], "at least 1"),
    (["--runtime", "/no/such/runtime"], "find runtime /no/such/runtime"),
    (["--runtime", "no-such-runtime-xyz"], "not found in PATH"),
])
def test_refused(extra, text):
    with pytest.raises(config.ConfigError, match=text):
        config.parse_args(BASE + extra)


def test_error_carries_the_sync_fd():
    with pytest.raises(config.ConfigError) as info:
        config.parse_args(["--sync-fd", "2", "--id", "bad id"])
    assert info.value.sync_fd == 2


@pytest.mark.parametrize("argv", [["-h"], BASE + ["--help"]])
def test_help(argv):
    with pytest.raises(config.HelpRequested):
        config.parse_args(argv)
    text = config.format_help()
    assert all(opt[0] in text for opt in config.OPTIONS)


def write_bundle(path, process):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"process": process}, f)
    return path


def test_load_process_checks_tty(tmp_path):
    bundle = write_bundle(str(tmp_path), {"args": ["sh"], "terminal": True})
    cfg = config.parse_args(["--id", "c", "--bundle", bundle, "--state-dir", "/x", "--tty"])
    assert config.load_process(cfg)["args"] == ["sh"]
    cfg = config.parse_args(["--id", "c", "--bundle", bundle, "--state-dir", "/x"])
    with pytest.raises(config.ConfigError, match="tty mismatch"):
        config.load_process(cfg)


def test_load_exec_process_sets_terminal_and_console_size(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"args": ["top"], "terminal": False}))
    cfg = config.parse_args(["--id", "c", "--bundle", str(tmp_path), "--state-dir", "/x",
                             "--exec", "--process", str(path), "--tty",
                             "--console-size", "100x50"])
    process = config.load_process(cfg)
    assert process["terminal"] is True
    assert process["consoleSize"] == {"width": 100, "height": 50}


@pytest.mark.parametrize("process,text", [
    ({"args": "sh"}, "'args' must be"),
    ({"args": ["sh", 1]}, "'args' must be"),
    ({"args": ["sh"], "env": "A=b"}, "'env' must be"),
    ({"args": ["sh"], "cwd": 5}, "'cwd' must be"),
])
def test_check_process(process, text):
    with pytest.raises(config.ConfigError, match=text):
        config.check_process(process, "here")


def test_to_argv_round_trips_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.parse_args(["--id", "c", "--bundle", "b", "--state-dir", "s", "--exec",
                             "--process", "p.json", "--runtime-root", "rr", "--tty",
                             "--console-size", "80x24", "--log-max-size", "9", "--sync-fd", "2"])
    argv = config.to_argv(cfg)
    assert argv[argv.index("--bundle") + 1] == f"{tmp_path}/b"
    again = config.parse_args(argv)
    assert vars(again) == vars(cfg)
