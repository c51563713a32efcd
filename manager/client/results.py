"""Typed results of manager.client: the API's JSON objects as attribute records.

Plain classes with __slots__ and annotations rather than @dataclass: importing
dataclasses pulls in inspect (~10 ms), paid by every CLI command. A record also
reads like the JSON it came from (`state["id"]`, `state.get("pid")`), so code
written against the dict answers keeps working; `to_dict()` gives that JSON.
binascii rather than base64 for the same reason: base64 imports re (~10 ms).
"""

import binascii


class Record:
    """Fields from a JSON object (missing ones are None); the object itself in `raw`."""

    __slots__ = ("raw",)

    def __init__(self, raw=None, **fields):
        raw = dict(raw or {}, **fields)
        self.raw = raw
        for name in self.field_names():
            setattr(self, name, self.convert(name, raw.get(name)))

    @classmethod
    def field_names(cls):
        """Return the typed fields, base classes first."""
        names = []
        for klass in reversed(cls.__mro__):
            names += [n for n in getattr(klass, "__annotations__", {}) if n not in names]
        return names

    def convert(self, name, value):
        """Return VALUE for field NAME (subclasses convert nested objects)."""
        return value

    def to_dict(self):
        """Return the JSON object as the manager sent it."""
        return dict(self.raw)

    def __getitem__(self, key):
        return self.raw[key]

    def get(self, key, default=None):
        """Return the JSON field KEY (as dict.get)."""
        return self.raw.get(key, default)

    def __contains__(self, key):
        return key in self.raw

    def __eq__(self, other):
        if isinstance(other, Record):
            return type(self) is type(other) and self.raw == other.raw
        return self.raw == other if isinstance(other, dict) else NotImplemented

    __hash__ = None

    def __repr__(self):
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.field_names())
        return f"{type(self).__name__}({fields})"


class ProcessState(Record):
    """An exec process (or the init process) as in the state object."""

    __slots__ = ("id", "status", "pid", "shim_pid", "created_at", "started_at", "exited_at",
                 "exit_code", "oom_killed", "tty", "stdin", "error", "dropped_bytes",
                 "output_lost")
    id: str
    status: str
    pid: "int | None"
    shim_pid: "int | None"
    created_at: "str | None"
    started_at: "str | None"
    exited_at: "str | None"
    exit_code: "int | None"
    oom_killed: bool
    tty: bool
    stdin: bool
    error: "str | None"
    dropped_bytes: "int | None"  # absent (None) when nothing was dropped
    output_lost: "dict | None"


class ContainerState(ProcessState):
    """The state object of a container (docs/api.md)."""

    __slots__ = ("bundle", "runtime", "labels", "processes", "resources")
    bundle: "str | None"
    runtime: "str | None"
    labels: "dict[str, str]"
    processes: "list[ProcessState]"
    resources: "Resources | None"

    def convert(self, name, value):
        """Make `processes` a list of ProcessState and `labels` a dict."""
        if name == "processes":
            return [ProcessState(p) for p in value or []]
        if name == "labels":
            return dict(value or {})
        if name == "resources":
            return None if value is None else Resources(value)
        return value


class Resources(Record):
    """The limits last set by `update` (None: as created)."""

    __slots__ = ("memory", "cpus", "pids_limit")
    memory: "int | None"
    cpus: "float | None"
    pids_limit: "int | None"


class ExitResult(Record):
    """What `wait` answers: the exit code (128+N for death by signal N)."""

    __slots__ = ("exit_code", "exited_at", "oom_killed")
    exit_code: "int | None"
    exited_at: "str | None"
    oom_killed: bool


class LogRecord(Record):
    """One log record: `data` is the bytes as written; the last one of a follow has exit_code."""

    __slots__ = ("stream", "time", "data", "exit_code")
    stream: "str | None"
    time: "str | None"
    data: bytes
    exit_code: "int | None"

    def convert(self, name, value):
        """Decode `data` from base64."""
        if name == "data":
            return binascii.a2b_base64(value or "")
        return value


class Event(Record):
    """One lifecycle event (create, start, exit, oom, delete, pause, resume, shim-lost)."""

    __slots__ = ("type", "id", "exec_id", "time", "exit_code", "pid", "seq")
    type: str
    id: str
    exec_id: "str | None"
    time: str
    exit_code: "int | None"
    pid: "int | None"
    seq: "int | None"


class Version(Record):
    """The manager's version and API version."""

    __slots__ = ("version", "api")
    version: str
    api: str


class CpuStats(Record):
    """CPU time used by the container's cgroup."""

    __slots__ = ("usage_ns",)
    usage_ns: "int | None"


class MemoryStats(Record):
    """Memory of the cgroup: usage without the inactive page cache (docker's), the limit."""

    __slots__ = ("usage_bytes", "raw_usage_bytes", "limit_bytes", "cache_bytes", "host_bytes")
    usage_bytes: "int | None"
    raw_usage_bytes: "int | None"
    limit_bytes: "int | None"
    cache_bytes: "int | None"
    host_bytes: "int | None"


class PidsStats(Record):
    """Processes in the cgroup and their limit (None: none)."""

    __slots__ = ("current", "limit")
    current: "int | None"
    limit: "int | None"


class BlkioStats(Record):
    """Bytes read from and written to block devices."""

    __slots__ = ("read_bytes", "write_bytes")
    read_bytes: int
    write_bytes: int


class Limits(Record):
    """The limits the cgroup has now (None: none)."""

    __slots__ = ("memory_bytes", "cpus", "pids")
    memory_bytes: "int | None"
    cpus: "float | None"
    pids: "int | None"


_STATS_PARTS = {"cpu": CpuStats, "memory": MemoryStats, "pids": PidsStats,
                "blkio": BlkioStats, "limits": Limits}


class Stats(Record):
    """One stats sample of a container (docs/api.md, "Stats"); read_ns is CLOCK_MONOTONIC."""

    __slots__ = ("id", "time", "read_ns", "cpu", "memory", "pids", "blkio", "oom_kills",
                 "limits", "cgroup_version", "online_cpus")
    id: str
    time: str
    read_ns: int
    cpu: CpuStats
    memory: MemoryStats
    pids: PidsStats
    blkio: BlkioStats
    oom_kills: int
    limits: Limits
    cgroup_version: int
    online_cpus: int

    def convert(self, name, value):
        """Make the nested objects records."""
        kind = _STATS_PARTS.get(name)
        if kind is None:
            return value
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{name}: expected an object")
        return kind(value)


class TopProcess(Record):
    """One process of a container, as top shows it (pid on the host)."""

    __slots__ = ("pid", "ppid", "uid", "user", "cpu_ns", "command", "args")
    pid: int
    ppid: int
    uid: int
    user: str
    cpu_ns: int
    command: str
    args: "list[str]"


class Top(Record):
    """The processes of a container."""

    __slots__ = ("id", "processes")
    id: str
    processes: "list[TopProcess]"

    def convert(self, name, value):
        """Make `processes` a list of TopProcess."""
        if name == "processes":
            if not isinstance(value or [], list):
                raise TypeError("processes: expected an array")
            return [TopProcess(p) for p in value or []]
        return value
