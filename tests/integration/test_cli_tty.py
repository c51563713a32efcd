"""Terminals: run -t, exec -t, resize, detach with ctrl-p ctrl-q, and attach again."""

import pexpect

from cliutil import TETHER_ARGV, manager, tether  # noqa: F401
import helpers

DETACH = "\x10\x11"


def spawn_cli(root, *args, rows=24, cols=80):
    """Run the CLI on a new pseudo-terminal of ROWS x COLS."""
    argv = TETHER_ARGV + ["--root", root, *args]
    return pexpect.spawn(argv[0], argv[1:], dimensions=(rows, cols), timeout=10)


def expect_exit(child, code):
    """Wait for CHILD to end; assert its exit status."""
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, (child.exitstatus, child.signalstatus, child.before)


def test_run_tty_resize_detach_and_attach_to_the_same_shell(tether, manager, rootfs):
    child = spawn_cli(manager.root, "run", "-t", "t1", "--rootfs", rootfs, "--", "sh")
    try:
        child.sendline("echo size=$(stty size)")
        child.expect_exact("size=24 80")
        child.setwinsize(30, 100)  # SIGWINCH: the client sends a resize
        helpers.wait_until(lambda: shell_size(child) == "30 100", what="the new size")
        child.sendline("X=persist; X=${X}-ok")
        child.send(DETACH)
        expect_exit(child, 0)
    finally:
        child.close(force=True)
    assert manager.state("t1")["status"] == "running"

    assert tether("resize", "t1", "120", "40") == (0, "", "")
    child = spawn_cli(manager.root, "attach", "t1", rows=33, cols=90)
    try:
        # attach sets its own size; the resize and the typed bytes take different paths
        helpers.wait_until(lambda: shell_size(child) == "33 90", what="attach's size")
        child.sendline("echo got=$X")
        child.expect_exact("got=persist-ok")
        child.sendline("exit 5")
        expect_exit(child, 5)
    finally:
        child.close(force=True)
    assert tether("wait", "t1") == (5, "5\n", "")
    assert tether("delete", "t1") == (0, "", "")


def shell_size(child):
    """Ask the shell on CHILD for its size; return it as 'ROWS COLS'."""
    child.sendline("echo ROWSCOLS=$(stty size)=")
    child.expect(r"ROWSCOLS=(\d+ \d+)=")
    return child.match.group(1).decode()


def test_resize_command_sets_the_size_of_an_attached_shell(tether, manager, rootfs):
    assert tether("run", "-d", "-t", "t2", "--rootfs", rootfs, "--", "sh")[0] == 0
    child = spawn_cli(manager.root, "attach", "t2")
    try:
        helpers.wait_until(lambda: shell_size(child) == "24 80", what="attach's size")
        assert tether("resize", "t2", "132", "43") == (0, "", "")
        helpers.wait_until(lambda: shell_size(child) == "43 132", what="the new size")
        child.send(DETACH)
        expect_exit(child, 0)
    finally:
        child.close(force=True)
    assert tether("delete", "--force", "t2") == (0, "", "")


def test_exec_tty_exits_with_the_shells_code(tether, manager, make_bundle):
    assert tether("run", "-d", "t3", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    child = spawn_cli(manager.root, "exec", "-t", "t3", "--", "sh", rows=20, cols=70)
    try:
        assert shell_size(child) == "20 70"
        child.sendline("tty; exit 3")
        child.expect_exact("/dev/pts/")
        expect_exit(child, 3)
    finally:
        child.close(force=True)
    assert tether("delete", "--force", "t3") == (0, "", "")


def test_tty_needs_a_terminal_on_stdin(tether, manager, rootfs):
    rc, out, err = tether("run", "-t", "t4", "--rootfs", rootfs, "--", "sh")
    assert (rc, out) == (125, "") and err.count("\n") == 1
    assert err.startswith("tether: run: the input device is not a TTY")
    assert tether("list", "--quiet") == (0, "", "")
