"""Notice OOM kills in the container's memory cgroup (v1: memory.oom_control, v2: memory.events).

oom_killed means: the kernel's OOM killer killed a process of this container's
memory cgroup while this process ran (docker's OOMKilled has the same meaning).
"""

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def memory_cgroup_dir(cgroup_text, root=CGROUP_ROOT):
    """Return the memory cgroup directory from the text of /proc/PID/cgroup, or None."""
    unified = None
    for line in cgroup_text.splitlines():
        hierarchy, _sep, rest = line.partition(":")
        controllers, _sep, path = rest.partition(":")
        if "memory" in controllers.split(","):
            return os.path.join(root, "memory", path.lstrip("/"))
        if hierarchy == "0" and controllers == "":
            unified = path
    if unified is not None and os.path.exists(os.path.join(root, "cgroup.controllers")):
        return os.path.join(root, unified.lstrip("/"))
    return None


def parse_oom_kills(text):
    """Return the oom_kill counter from memory.oom_control or memory.events text."""
    for line in text.splitlines():
        key, _sep, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


class OomWatcher:
    """Track OOM kills of one process's memory cgroup."""

    def __init__(self, loop, pid, log):
        self.loop = loop
        self._log = log
        self.events = 0
        self.event_fd = None
        self.counter_path = None
        self.start_count = None
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                directory = memory_cgroup_dir(f.read())
        except OSError:
            directory = None
        if directory is None:
            log("info", f"find memory cgroup of pid {pid}: none; OOM kills are not tracked")
            return
        v1 = os.path.exists(os.path.join(directory, "memory.oom_control"))
        self.counter_path = os.path.join(
            directory, "memory.oom_control" if v1 else "memory.events")
        self.start_count = self._read_count()
        if v1:
            self._listen_v1(directory)

    def _read_count(self):
        try:
            with open(self.counter_path) as f:
                return parse_oom_kills(f.read())
        except OSError:
            return None

    def _listen_v1(self, directory):
        """Register an eventfd for OOM notifications (cgroup.event_control)."""
        control_fd = None
        try:
            self.event_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            control_fd = os.open(os.path.join(directory, "memory.oom_control"),
                                 os.O_RDONLY | os.O_CLOEXEC)
            with open(os.path.join(directory, "cgroup.event_control"), "w") as f:
                f.write(f"{self.event_fd} {control_fd}")
        except OSError as err:
            self._log("warning", f"register OOM eventfd in {directory}: {err.strerror}")
            self.close()
            return
        finally:
            if control_fd is not None:
                os.close(control_fd)  # the kernel holds its own reference
        self.loop.add_reader(self.event_fd, self._read_event)

    def _read_event(self):
        try:
            self.events += os.eventfd_read(self.event_fd)
        except BlockingIOError:
            return
        except OSError:
            self.close()  # the cgroup is gone
            return
        self._log("warning", "OOM in the container's memory cgroup", events=self.events)

    def oom_killed(self):
        """Return True if an OOM kill happened in the cgroup since we started watching."""
        self._read_event_now()
        count = self._read_count() if self.counter_path else None
        if count is not None and self.start_count is not None:
            return count > self.start_count
        return self.events > 0

    def _read_event_now(self):
        if self.event_fd is not None:
            self._read_event()

    def close(self):
        """Stop listening."""
        if self.event_fd is not None:
            self.loop.forget_fd(self.event_fd)
            os.close(self.event_fd)
            self.event_fd = None
