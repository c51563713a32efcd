"""conmon + runc, started the way podman does: sync pipe, then `runc start`."""

import os
import subprocess

from bench import peers


class Conmon:
    """conmon processes on a runc root of their own, with an exit directory."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "conmon")
        self.runc_root = os.path.join(self.dir, "runc")
        self.exit_dir = os.path.join(self.dir, "exits")
        for path in (self.runc_root, self.exit_dir):
            os.makedirs(path, exist_ok=True)

    def create(self, cid, bundle, no_sync_log=False):
        """Run conmon (it runs `runc create`); return (conmon pid, container pid)."""
        cdir = os.path.join(self.dir, cid)
        os.makedirs(cdir, exist_ok=True)
        argv = ["conmon", "--api-version", "1", "-c", cid, "-u", cid, "-n", cid,
                "-r", peers.RUNC, "-b", bundle, "-p", os.path.join(cdir, "pid"),
                "-P", os.path.join(cdir, "conmon.pid"),
                "-l", "k8s-file:" + os.path.join(cdir, "ctr.log"),
                "--exit-dir", self.exit_dir, "--socket-dir-path", cdir,
                "--runtime-arg", "--root", "--runtime-arg", self.runc_root]
        if no_sync_log:
            argv.append("--no-sync-log")
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, _OCI_SYNCPIPE=str(write_fd))
        proc = subprocess.Popen(argv, pass_fds=(write_fd,), env=env, cwd=cdir,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        os.close(write_fd)
        try:
            answer = peers.read_json_line(read_fd)
        finally:
            os.close(read_fd)
        proc.wait()
        if not answer or answer.get("data", -1) <= 0:
            raise RuntimeError(f"conmon create {cid}: {answer}")
        with open(os.path.join(cdir, "conmon.pid")) as f:
            conmon_pid = int(f.read().strip())
        return conmon_pid, answer["data"]

    def start(self, cid):
        """`runc start` the created container."""
        peers.run_quiet([peers.RUNC, "--root", self.runc_root, "start", cid])

    def exit_path(self, cid):
        """Return the exit file conmon writes for CID."""
        return os.path.join(self.exit_dir, cid)

    def remove(self, cid):
        """Delete CID from runc (force) and forget its files."""
        peers.run_quiet([peers.RUNC, "--root", self.runc_root, "delete", "--force", cid],
                        check=False)
        try:
            os.unlink(self.exit_path(cid))
        except FileNotFoundError:
            pass

    def cleanup(self):
        """Delete every container conmon started here."""
        peers.runc_cleanup(self.runc_root)
