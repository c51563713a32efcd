"""Full-disk moments: the chaos run's state root on a small tmpfs, filled by a ballast file."""

import os
import subprocess


class SmallDisk:
    """A tmpfs of SIZE bytes at PATH; fill() takes all its space, release() gives it back."""

    def __init__(self, path, size=64 << 20):
        self.path = path
        self.size = size
        self.ballast = os.path.join(path, ".ballast")
        self.mounted = False

    def mount(self):
        """Mount the tmpfs (mode 0711, as a state root's parent)."""
        os.makedirs(self.path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0711", "tmpfs",
                        self.path], check=True)
        self.mounted = True

    def fill(self):
        """Write the ballast until ENOSPC; return its size in bytes."""
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            st = os.statvfs(self.path)
            try:  # most of it at once (tmpfs allocates the pages: no writing)
                os.posix_fallocate(fd, 0, max(st.f_bavail * st.f_frsize - (1 << 20), 4096))
            except OSError:
                pass  # someone took the space meanwhile: the writes below finish the job
            os.lseek(fd, 0, os.SEEK_END)
            page = b"\0" * 4096
            while True:
                try:
                    os.write(fd, page)
                except OSError:
                    break
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def release(self):
        """Remove the ballast (the space comes back at once on tmpfs)."""
        try:
            os.unlink(self.ballast)
        except FileNotFoundError:
            pass

    def unmount(self):
        """Remove the ballast and unmount (lazily if something still holds it)."""
        if not self.mounted:
            return
        self.release()
        if subprocess.run(["umount", self.path], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", self.path], check=True)
        self.mounted = False
