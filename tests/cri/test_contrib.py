"""contrib/kubernetes's containerd snippet is a config containerd reads as meant."""

import os
import subprocess

from .node import REPO

SNIPPET = os.path.join(REPO, "contrib", "kubernetes", "containerd-tether.toml")


def test_snippet_defines_the_tether_handler():
    dump = subprocess.run(["containerd", "--config", SNIPPET, "config", "dump"], check=True,
                          capture_output=True, text=True, timeout=30).stdout
    section = dump.split('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tether]')[1]
    keys = []
    for line in section.splitlines()[1:]:
        if line.strip().startswith("["):
            break
        keys.append(line.strip())
    assert 'runtime_type = "io.containerd.tether.v1"' in keys


def test_runtimeclass_names_the_handler():
    with open(os.path.join(REPO, "contrib", "kubernetes", "runtimeclass.yaml")) as f:
        lines = [line.strip() for line in f if not line.lstrip().startswith("#")]
    assert "kind: RuntimeClass" in lines and "handler: tether" in lines
    with open(os.path.join(REPO, "contrib", "kubernetes", "pod.yaml")) as f:
        assert "  runtimeClassName: tether\n" in f.read()
