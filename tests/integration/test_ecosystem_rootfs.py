"""--rootfs containers shaped by the config.json flags, against real runc; `tether spec`."""

import json
import os

from cliutil import manager, run_tether, tether  # noqa: F401


def test_user_hostname_limits_and_readonly_mount_reach_the_container(tether, rootfs, tmp):
    # mkdtemp made the shared rootfs 0700: uid 1000 could not even reach /bin/sh.
    os.chmod(rootfs, 0o755)
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    with open(os.path.join(data, "f"), "w") as f:
        f.write("from the host\n")
    script = ("id -u; id -g; hostname; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
              "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
              "/data/f; ls /sys/class/net; echo x > /data/new || echo refused")
    rc, out, err = tether("run", "--rm", "spec1", "--rootfs", rootfs, "--user", "1000:1001",
                          "--hostname", "box1", "--memory", "64m", "--cpus", "0.5",
                          "--pids-limit", "20", "--mount", f"{data}:/data:ro", "--net", "none",
                          "--", "sh", "-c", script)
    assert rc == 0, err
    assert out.split("\n")[:9] == ["1000", "1001", "box1", str(64 << 20), "20", "50000",
                                   "from the host", "lo", "refused"]
    assert "Read-only file system" in err
    assert not os.path.exists(os.path.join(data, "new"))


def test_writable_mount_and_host_network(tether, rootfs, tmp):
    rc, out, err = tether("run", "--rm", "spec2", "--rootfs", rootfs, "--mount", f"{tmp}:/host",
                          "--net", "host", "--", "sh", "-c", "echo w > /host/w; ls /sys/class/net")
    assert rc == 0, err
    with open(os.path.join(tmp, "w")) as f:
        assert f.read() == "w\n"
    assert set(out.split()) == set(os.listdir("/sys/class/net"))


def test_missing_mount_source_is_one_error_and_nothing_is_left(tether, manager, rootfs, tmp):
    rc, out, err = tether("run", "--rm", "spec3", "--rootfs", rootfs,
                          "--mount", f"{tmp}/nope:/x", "--", "true")
    assert (rc, out) == (125, "")
    assert err == f"tether: invalid mount source {tmp}/nope: no such file or directory\n"
    assert tether("list", "-q") == (0, "", "")
    assert os.listdir(os.path.join(manager.root, "containers")) == []


def test_spec_flags_with_a_bundle_are_refused_before_any_request(tmp, make_bundle):
    # No manager runs: the refusal must come before any connection is tried.
    rc, out, err = run_tether(f"{tmp}/root", "create", "b1", "--bundle", make_bundle(["true"]),
                              "--memory", "1g", "--net", "host")
    assert (rc, out) == (125, "")
    assert err.startswith("tether: create: --memory, --net need --rootfs")


def test_spec_prints_a_config_runc_accepts(tmp, rootfs):
    rc, out, err = run_tether(f"{tmp}/root", "spec", "--rootfs", rootfs, "--hostname", "h2",
                              "--", "sh", "-c", "hostname; exit 4")
    assert rc == 0, err
    config = json.loads(out)
    assert config["process"]["args"] == ["sh", "-c", "hostname; exit 4"]
    assert config["hostname"] == "h2" and config["root"]["path"] == rootfs
    assert not os.path.exists(f"{tmp}/root"), "spec needs no manager and writes no state"


def test_edited_spec_runs_as_a_bundle(tether, tmp, rootfs):
    bundle = os.path.join(tmp, "edited")
    os.mkdir(bundle)
    rc, out, _err = tether("spec", "--rootfs", rootfs, "--env", "WHO=edited", "--",
                           "sh", "-c", "echo $WHO; hostname")
    config = json.loads(out)
    config["hostname"] = "by-hand"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    assert tether("run", "--rm", "spec4", "--bundle", bundle) == (0, "edited\nby-hand\n", "")
