"""OOM kills in the container's memory cgroup set oom_killed in exitStatus."""

import shimutil

# The shell holds the whole string in memory: far over an 8 MiB limit.
HOG = ["sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\000' a); echo ${#x}"]


def test_oom_kill_sets_oom_killed_and_137(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(HOG, memory=8 << 20), "c", "--start")
    status = shimutil.finish(started, timeout=60)
    assert (status["exit_code"], status["oom_killed"]) == (137, True)
    assert shimutil.shim_logged(started, "OOM")


def test_no_oom_within_the_limit(root, make_bundle):
    bundle = make_bundle(["sh", "-c", "x=$(head -c 100000 /dev/zero | tr '\\000' a)"],
                         memory=64 << 20)
    started = shimutil.start_shim(root, bundle, "c", "--start")
    status = shimutil.finish(started)
    assert (status["exit_code"], status["oom_killed"]) == (0, False)
