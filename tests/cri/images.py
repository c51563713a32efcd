"""The test images, built from Debian's busybox-static as one docker-archive tar.

Two images share one layer (/bin/busybox, its applet links, /etc/passwd): the
sandbox ("pause") image, whose command sleeps until killed, and the busybox
image the containers run. `ctr images import` reads a docker-archive (`docker
save`'s format: manifest.json, one config JSON per image, one tar per layer).
"""

import hashlib
import io
import json
import os
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
PAUSE_IMAGE = "tether.test/pause:1"
BUSYBOX_IMAGE = "tether.test/busybox:1"
# busybox's sleep takes seconds as an unsigned number; this is ~68 years.
PAUSE_COMMAND = ["/bin/sleep", "2147483647"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ETC_FILES = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
}


def _add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _add_bytes(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def build_layer():
    """Return the layer tar's bytes: busybox, a link per applet, a few /etc files."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "dev", "etc", "proc", "root", "sys"):
            _add_dir(tar, name)
        _add_dir(tar, "tmp", 0o1777)
        _add_bytes(tar, "bin/busybox", busybox, 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        for name, data in ETC_FILES.items():
            _add_bytes(tar, name, data)
    return out.getvalue()


def _image_config(diff_id, command):
    return json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": command, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "tests/cri/images.py"}],
    }, sort_keys=True).encode()


def write_archive(path):
    """Write the docker-archive with both images to PATH."""
    layer = build_layer()
    layer_digest = hashlib.sha256(layer).hexdigest()
    manifest = []
    with tarfile.open(path, "w") as tar:
        _add_bytes(tar, f"{layer_digest}/layer.tar", layer)
        for tag, command in ((PAUSE_IMAGE, PAUSE_COMMAND), (BUSYBOX_IMAGE, ["sh"])):
            config = _image_config(f"sha256:{layer_digest}", command)
            name = hashlib.sha256(config).hexdigest() + ".json"
            _add_bytes(tar, name, config)
            manifest.append({"Config": name, "RepoTags": [tag],
                             "Layers": [f"{layer_digest}/layer.tar"]})
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def import_images(ctr_argv, workdir):
    """Build the archive under WORKDIR and import it with CTR_ARGV (ctr and its options)."""
    archive = write_archive(os.path.join(workdir, "images.tar"))
    subprocess.run([*ctr_argv, "images", "import", archive], check=True,
                   capture_output=True, timeout=60)
