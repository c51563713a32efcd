#!/usr/bin/env bash
# Set up Tether on a fresh Debian machine (as root): runc, busybox-static,
# containerd and the CNI plugins (tests/cri) from Debian, and a virtualenv in
# .venv with tether installed (editable, with the test extras). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (containers need root with runc): sudo $0" >&2
    exit 1
fi
if ! command -v runc >/dev/null || [ ! -x /bin/busybox ] || ! command -v containerd >/dev/null \
        || [ ! -x /usr/lib/cni/bridge ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y runc busybox-static containerd containernetworking-plugins
fi
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# containerd finds runtime shims on its PATH (io.containerd.tether.v1 ->
# containerd-shim-tether-v1): link this clone's into /usr/local/bin.
ln -sfn "$PWD/.venv/bin/containerd-shim-tether-v1" /usr/local/bin/containerd-shim-tether-v1
echo "setup.sh: ready: .venv/bin/tether, .venv/bin/tether-shim, /usr/local/bin/containerd-shim-tether-v1 ($(.venv/bin/python --version))"
