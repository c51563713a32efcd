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
                 "exit_code", "oom_killed", "tty", "stdin", "error")
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


class ContainerState(ProcessState):
    """The state object of a container (docs/api.md)."""

    __slots__ = ("bundle", "runtime", "labels", "processes")
    bundle: "str | None"
    runtime: "str | None"
    labels: "dict[str, str]"
    processes: "list[ProcessState]"

    def convert(self, name, value):
        """Make `processes` a list of ProcessState and `labels` a dict."""
        if name == "processes":
            return [ProcessState(p) for p in value or []]
        if name == "labels":
            return dict(value or {})
        return value


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
