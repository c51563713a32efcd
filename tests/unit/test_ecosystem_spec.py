"""The config.json options: parsing the CLI's flags, validating bodies, shaping the spec."""

import pytest

from manager.server import bodies
from manager.cli import main as cli, checks
from manager.core import spec


@pytest.mark.parametrize("text,expected", [
    ("64m", 64 << 20), ("1g", 1 << 30), ("1G", 1 << 30), ("512k", 512 << 10),
    ("1048576", 1048576), ("100b", 100), ("2t", 2 << 40),
])
def test_parse_memory(text, expected):
    assert spec.parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "m", "0", "1.5g", "64mb", "-1", "1x"])
def test_parse_memory_refuses(text):
    with pytest.raises(ValueError, match="invalid --memory"):
        spec.parse_memory(text)


@pytest.mark.parametrize("text,expected", [("1000:1000", (1000, 1000)), ("0:5", (0, 5))])
def test_parse_user(text, expected):
    assert spec.parse_user(text) == expected


@pytest.mark.parametrize("text", ["1000", "root:root", "1000:", ":1", "-1:0", "1:2:3"])
def test_parse_user_refuses(text):
    with pytest.raises(ValueError, match="expected UID:GID"):
        spec.parse_user(text)


@pytest.mark.parametrize("text", ["0", "-1", "x", "0.001", "2000", "nan", "inf"])
def test_parse_cpus_refuses(text):
    with pytest.raises(ValueError, match="invalid --cpus"):
        spec.parse_cpus(text)


def test_parse_mount():
    assert spec.parse_mount("/srv:/data:ro") == {"source": "/srv", "destination": "/data",
                                                 "readonly": True}
    assert spec.parse_mount("/srv:/data")["readonly"] is False
    assert spec.parse_mount("/srv:/data:rw")["readonly"] is False


@pytest.mark.parametrize("text", ["/srv", "/srv:data", ":/data", "/a:/b:rx", "/a:/b:ro:x"])
def test_parse_mount_refuses(text):
    with pytest.raises(ValueError, match="invalid --mount"):
        spec.parse_mount(text)


def test_default_spec_applies_every_option():
    config = spec.default_spec(args=["id"], user=(1000, 1001), hostname="h", memory=1 << 20,
                               cpus=1.5, pids_limit=7, net="host",
                               mounts=[{"source": "/s", "destination": "/d", "readonly": True}])
    assert config["process"]["user"] == {"uid": 1000, "gid": 1001}
    assert config["hostname"] == "h"
    resources = config["linux"]["resources"]
    assert resources["memory"] == {"limit": 1 << 20}
    assert resources["cpu"] == {"quota": 150000, "period": 100000}
    assert resources["pids"] == {"limit": 7}
    assert "network" not in [n["type"] for n in config["linux"]["namespaces"]]
    assert config["mounts"][-1] == {"destination": "/d", "type": "bind", "source": "/s",
                                    "options": ["rbind", "ro"]}


def test_default_spec_without_options_is_runc_shaped():
    config = spec.default_spec()
    assert "network" in [n["type"] for n in config["linux"]["namespaces"]]
    assert set(config["linux"]["resources"]) == {"devices"}
    assert config["process"]["user"] == {"uid": 0, "gid": 0}


def parse(argv):
    opts = cli.parse_args(argv)
    checks.check(opts)
    return opts


def test_cli_flags_become_spec_options():
    opts = parse(["run", "c", "--rootfs", "/", "-u", "1:2", "-m", "1k", "--cpus", "2",
                  "--pids-limit", "9", "--mount", "/a:/b:ro", "--mount", "/c:/d",
                  "--hostname", "h", "--net", "none", "--", "true"])
    assert opts.spec == {"user": (1, 2), "hostname": "h", "memory": 1024, "cpus": 2.0,
                         "pids_limit": 9, "net": "none",
                         "mounts": [{"source": "/a", "destination": "/b", "readonly": True},
                                    {"source": "/c", "destination": "/d", "readonly": False}]}


@pytest.mark.parametrize("argv,message", [
    (["create", "c", "--bundle", "/b", "--cpus", "1"], "--cpus need --rootfs"),
    (["create", "c", "--rootfs", "/", "--pids-limit", "0"], "invalid --pids-limit"),
    (["create", "c", "--rootfs", "/", "--hostname", "a b"], "invalid --hostname"),
    (["spec", "--user", "me"], "invalid --user"),
])
def test_cli_refuses_bad_spec_flags(argv, message):
    with pytest.raises(ValueError, match=message):
        parse(argv)


def body(**fields):
    return {"id": "c1", "rootfs": "/", **fields}


def test_create_body_spec_fields_are_validated():
    out = bodies.parse_create(body(user={"uid": 1, "gid": 2}, memory=4096, cpus=0.5,
                                   pids_limit=3, net="host", hostname="x.y",
                                   mounts=[{"source": "/tmp", "destination": "/t"}]))
    assert out["spec"] == {"user": (1, 2), "hostname": "x.y", "memory": 4096, "cpus": 0.5,
                           "pids_limit": 3, "net": "host",
                           "mounts": [{"source": "/tmp", "destination": "/t",
                                       "readonly": False}]}


@pytest.mark.parametrize("fields,message", [
    ({"user": {"uid": -1, "gid": 0}}, "invalid user"),
    ({"user": "1:1"}, "invalid user"),
    ({"memory": 0}, "invalid memory"),
    ({"cpus": True}, "invalid cpus"),
    ({"net": "bridge"}, "invalid net"),
    ({"hostname": "a/b"}, "invalid hostname"),
    ({"mounts": [{"source": "rel", "destination": "/d"}]}, "must be absolute"),
    ({"mounts": [{"source": "/nonexistent-x", "destination": "/d"}]}, "no such file"),
    ({"mounts": "/a:/b"}, "invalid mounts"),
])
def test_create_body_refuses_bad_spec_fields(fields, message):
    with pytest.raises(bodies.BadRequest, match=message):
        bodies.parse_create(body(**fields))


def test_create_body_refuses_spec_fields_with_a_bundle(tmp):
    with open(f"{tmp}/config.json", "w") as f:
        f.write("{}")
    with pytest.raises(bodies.BadRequest, match="refused with a bundle"):
        bodies.parse_create({"id": "c1", "bundle": tmp, "memory": 1 << 20})
