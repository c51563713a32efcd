"""Bad input and failed start-ups: one clear line, a non-zero exit, nothing left behind."""

import json
import os
import sys

import pytest

import shimutil


def assert_nothing_left(root):
    assert not os.path.exists(os.path.join(root, "containers"))
    assert shimutil.helpers.runc_list(os.path.join(root, "runc")) == []
    # The failed shim is gone by the time its starter returns (it holds the result
    # pipe until it exits).
    assert shimutil.helpers.processes_mentioning(root) == []


@pytest.mark.parametrize("cid", ["bad id", "-x", "a/b", "x" * 65])
def test_bad_id(root, make_bundle, cid):
    argv = shimutil.SHIM + ["--id", cid, "--bundle", make_bundle(["true"]),
                            "--state-dir", os.path.join(root, "containers", "x", "init"),
                            "--start"]
    proc = shimutil.subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 125
    assert proc.stderr.startswith("tether-shim: invalid id") and proc.stderr.count("\n") == 1
    assert_nothing_left(root)


def test_missing_bundle(root, tmp):
    started = shimutil.start_shim(root, os.path.join(tmp, "nowhere"), "c", "--start",
                                  check=False)
    assert started.returncode == 125
    assert started.stderr == f"tether-shim: open bundle {tmp}/nowhere: no such directory\n"
    assert_nothing_left(root)


@pytest.mark.parametrize("content,text", [
    (None, "no such file"),
    ("{not json", "malformed JSON"),
    ("[]", "expected a JSON object"),
    ('{"process": {"args": []}}', "'args' must be a non-empty list"),
    ('{"ociVersion": "1.0.2"}', "no 'process' object"),
])
def test_broken_config_json(root, tmp, content, text):
    bundle = os.path.join(tmp, "b")
    os.mkdir(bundle)
    if content is not None:
        with open(os.path.join(bundle, "config.json"), "w") as f:
            f.write(content)
    started = shimutil.start_shim(root, bundle, "c", "--start", check=False)
    assert started.returncode == 125
    assert text in started.stderr and "config.json" in started.stderr
    assert len(started.stderr.splitlines()) == 1
    assert_nothing_left(root)


@pytest.mark.parametrize("args,code,text", [
    (["nope"], 127, 'exec: "nope": executable file not found in $PATH'),
    (["/nope"], 127, "no such file or directory"),
    (["/etc/passwd"], 126, "permission denied"),
])
@pytest.mark.parametrize("start", [[], ["--start"]])
def test_runc_create_failure(root, make_bundle, args, code, text, start):
    started = shimutil.start_shim(root, make_bundle(args), "c", *start, check=False)
    assert started.returncode == code
    # With --start the shim runs `runc run --detach` (create and start in one).
    verb = "run" if start else "create"
    assert text in started.stderr and started.stderr.startswith(f"tether-shim: runc {verb}")
    assert_nothing_left(root)


def test_runc_start_failure_deletes_the_created_container(root, make_bundle, tmp):
    # A runtime wrapper whose `run --detach` creates the container, then fails to
    # start it: the shim must undo the create.
    wrapper = os.path.join(tmp, "fake-runc")
    with open(wrapper, "w") as f:
        f.write(f"#!{sys.executable} -I\n"
                "import os, subprocess, sys\n"
                "args = sys.argv[1:]\n"
                "if 'run' in args:\n"
                "    at = args.index('run')\n"
                "    args[at:at + 2] = ['create']\n"
                "    subprocess.run(['runc', *args], check=True)\n"
                "    sys.exit(1)\n"
                "os.execvp('runc', ['runc', *args])\n")
    os.chmod(wrapper, 0o755)
    started = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "c", "--start",
                                  "--runtime", wrapper, check=False)
    assert started.returncode == 125
    assert "fake-runc run exited with status 1" in started.stderr
    assert_nothing_left(root)


def test_existing_process_dir_is_kept_but_our_files_go(root, make_bundle):
    proc_dir = shimutil.proc_dir_of(root, "c")
    os.makedirs(proc_dir)
    with open(os.path.join(proc_dir, "keep"), "w") as f:
        f.write("mine")
    started = shimutil.start_shim(root, make_bundle(["nope"]), "c", "--start", check=False)
    assert started.returncode == 127
    assert sorted(os.listdir(proc_dir)) == ["keep"]
    assert os.listdir(os.path.dirname(proc_dir)) == ["init"]


@pytest.mark.parametrize("args,text", [
    ([], "missing --id"),
    (["--id", "c"], "missing --bundle"),
    (["--id", "c", "--bundle", "/", "--state-dir", "/tmp/x", "--bogus"], "unknown argument"),
    (["--id", "c", "--bundle", "/", "--state-dir", "/tmp/x", "--exec"], "--exec needs"),
    (["--id", "c", "--bundle", "/", "--state-dir", "/tmp/x", "--runtime", "/nope"],
     "find runtime /nope"),
])
def test_bad_command_line(args, text):
    proc = shimutil.subprocess.run(shimutil.SHIM + args, capture_output=True, text=True,
                                   timeout=30)
    assert proc.returncode == 125 and text in proc.stderr


def test_help_documents_every_flag():
    proc = shimutil.subprocess.run(shimutil.SHIM + ["--help"], capture_output=True,
                                   text=True, timeout=30)
    assert proc.returncode == 0
    for flag in ("--id", "--bundle", "--state-dir", "--runtime", "--runtime-root", "--exec",
                 "--process", "--tty", "--stdin", "--console-size", "--log-max-size",
                 "--log-max-files", "--start", "--foreground", "--sync-fd"):
        assert f"  {flag}" in proc.stdout


def test_bad_input_on_the_sync_fd(root):
    read_fd, write_fd = os.pipe()
    try:
        proc = shimutil.subprocess.run(
            shimutil.SHIM + ["--id", "bad id", "--sync-fd", str(write_fd)], pass_fds=[write_fd],
            capture_output=True, text=True, timeout=30)
        os.close(write_fd)
        write_fd = None
        result = json.loads(os.read(read_fd, 4096))
    finally:
        os.close(read_fd)
        if write_fd is not None:
            os.close(write_fd)
    assert proc.returncode == 125
    assert result == {"ok": False, "exit_code": 125, "error": proc.stderr[13:].strip()}
