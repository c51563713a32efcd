"""The shim's files in its process directory, and their removal after a failed start."""

import os

from shim import stdio
from shim.contract import layout
from shim.spawn import StartError


def refuse_symlinks(path):
    """Raise StartError if PATH, its parent or an entry in PATH is a symlink."""
    # The runtime (runc --log) and our own writes would follow a planted link
    # out of the state directory.
    for directory in (path, os.path.dirname(path)):
        if os.path.islink(directory):
            raise StartError(f"use process directory {path}: {directory} is a symlink")
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_symlink():
                raise StartError(f"use process directory {path}: {entry.name} is a symlink")


class ProcessDir:
    """Create the process directory and its files; remember what we made, to undo it."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.path = cfg.proc_dir
        self.created = []  # files and directories we made, in order
        self.created_tree = None  # the topmost directory we made (removed whole on failure)

    def join(self, name):
        """Return the path of NAME in the process directory."""
        return os.path.join(self.path, name)

    def make_dir(self):
        """Create the process directory (and missing parents, 0700), or check the existing one."""
        missing = []
        path = self.path
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for path in reversed(missing):
            try:
                layout.make_private_dir(path)
            except FileExistsError:
                continue
            if self.created_tree is None:
                self.created_tree = path
        if os.path.exists(self.join(layout.SHIM_PID)):
            raise StartError(f"create process directory {self.path}: "
                             f"it already has a shim ({layout.SHIM_PID} exists)")
        refuse_symlinks(self.path)

    def write_shim_pid(self):
        """Write shim.pid with create-once semantics: one shim per process directory."""
        pid = os.getpid()
        data = layout.encode_shim_pid(pid)
        if not layout.create_once(self.join(layout.SHIM_PID), data, durable=False):
            raise StartError(f"write {self.join(layout.SHIM_PID)}: another shim owns "
                             f"process directory {self.path}")
        self.created.append(self.join(layout.SHIM_PID))
        self.write_file(layout.CONTRACT, layout.contract_data())  # the version we speak

    def write_container_json(self):
        """Write ../container.json for a hand-started init process if there is none."""
        path = os.path.join(os.path.dirname(self.path), layout.CONTAINER_JSON)
        if os.path.lexists(path):  # the manager's: spare the temp file and its fsync
            return
        obj = {"id": self.cfg.id, "bundle": self.cfg.bundle, "runtime": self.cfg.runtime,
               "labels": {}, "created_at": layout.format_time(layout.now_ns())}
        if layout.create_once(path, layout.dump_json(obj)):
            self.created.append(path)

    def write_process_json(self, process):
        """Write process.json: the process spec and its io settings."""
        cfg = self.cfg
        obj = {"process": process, "exec": bool(cfg.exec), "tty": bool(cfg.tty),
               "stdin": bool(cfg.stdin),
               "console_size": list(cfg.console_size) if cfg.console_size else None,
               "runtime": cfg.runtime, "bundle": cfg.bundle}
        self.write_file(layout.PROCESS_JSON, layout.dump_json(obj))

    def write_file(self, name, data):
        """Write NAME atomically (not durably: a live process's facts) and remember it."""
        layout.atomic_write(self.join(name), data, durable=False)
        self.remember(self.join(name))

    def make_fifo(self, name):
        """Create the FIFO NAME (0600); return its path."""
        path = self.join(name)
        stdio.make_fifo(path)
        self.remember(path)
        return path

    def remember(self, path):
        """Record PATH as ours, to remove if the start-up fails."""
        if path not in self.created:
            self.created.append(path)

    def remove_created(self):
        """Undo a failed start-up: remove everything we created."""
        for path in reversed(self.created):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        if self.created_tree is not None:
            layout.remove_tree(self.created_tree)
