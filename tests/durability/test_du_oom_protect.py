"""The shim lowers its own oom_score_adj where allowed, and says once when it is not."""

import os

import pytest

from shim import protect

GRANTED = protect.has_capability(protect.CAP_SYS_RESOURCE)


def in_child(func):
    """Run FUNC() in a forked child (our own score stays); return its exit status."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = func()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(GRANTED, reason="CAP_SYS_RESOURCE is held: lowering is not refused here")
def test_du_refused_lowering_is_logged_once_and_changes_nothing():
    def child():
        lines = []
        before = protect.read_score()
        protected = protect.lower_oom_score(lambda *a, **kw: lines.append((a, kw)))
        ok = (protected is False and len(lines) == 1 and protect.read_score() == before
              and lines[0][1] == {"oom_protected": False}
              and "Permission denied" in lines[0][0][1] and "unprotected" in lines[0][0][1])
        return 0 if ok else 1
    assert in_child(child) == 0


@pytest.mark.skipif(not GRANTED, reason="lowering oom_score_adj needs CAP_SYS_RESOURCE, "
                                        "which this host's root lacks")
def test_du_granted_lowering_protects_the_shim():
    def child():
        protected = protect.lower_oom_score(lambda *a, **kw: None)
        return 0 if protected and protect.read_score() == protect.SHIM_OOM_SCORE_ADJ else 1
    assert in_child(child) == 0


def test_du_already_low_enough_needs_no_write(tmp):
    path = os.path.join(tmp, "oom_score_adj")
    with open(path, "w") as f:
        f.write("-1000\n")
    os.chmod(path, 0o400)  # a write would fail for a non-root user; none is tried
    assert protect.lower_oom_score(lambda *a, **kw: pytest.fail("logged"), path=path)


def test_du_capability_bits_are_read_from_status(tmp):
    path = os.path.join(tmp, "status")
    with open(path, "w") as f:
        f.write("Name:\tx\nCapEff:\t000001fffeffffff\n")
    assert not protect.has_capability(24, path)  # CAP_SYS_RESOURCE off, as on these hosts
    assert protect.has_capability(21, path)  # CAP_SYS_ADMIN on


def test_du_real_shim_reports_its_protection_once_and_the_container_keeps_its_score(
        root, make_bundle):
    import shimutil
    started = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "du-oom", "--start")
    try:
        with open(f"/proc/{started.pid}/oom_score_adj") as f:
            assert int(f.read()) == 0  # the container keeps the inherited/bundle value
        with open(f"/proc/{started.shim_pid}/oom_score_adj") as f:
            shim_score = int(f.read())
        refusals = [r for r in shimutil.shim_log_records(started)
                    if "oom_score_adj" in r.get("msg", "")]
        if GRANTED:
            assert shim_score == protect.SHIM_OOM_SCORE_ADJ and refusals == []
        else:
            assert shim_score == 0 and len(refusals) == 1
            assert refusals[0]["oom_protected"] is False
    finally:
        shimutil.kill_and_finish(root, started, "du-oom")
        shimutil.runc(root, "delete", "--force", "du-oom", check=False)
