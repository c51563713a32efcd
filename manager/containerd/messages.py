"""The messages of containerd's shim v2 API, as field tables for manager.containerd.wire.

Field numbers read from containerd 1.6's runtime/v2/task/shim.proto,
api/events/task.proto, api/services/ttrpc/events/v1/events.proto,
api/types/{mount,task/task}.proto, ttrpc's types.go, google's any, timestamp
and rpc/status protos, and cgroups' stats/v1/metrics.proto (Debian's
golang-github-containerd-containerd-dev ships them).
"""

import time

from .wire import Message

ANY = Message("google.protobuf.Any", [(1, "type_url", "string"), (2, "value", "bytes")])
TIMESTAMP = Message("google.protobuf.Timestamp", [(1, "seconds", "int64"), (2, "nanos", "int32")])
STATUS = Message("google.rpc.Status", [
    (1, "code", "int32"), (2, "message", "string"), (3, "details", "message*", ANY)])
EMPTY = Message("google.protobuf.Empty", [])

# ttrpc's envelope
KEY_VALUE = Message("ttrpc.KeyValue", [(1, "key", "string"), (2, "value", "string")])
REQUEST = Message("ttrpc.Request", [
    (1, "service", "string"), (2, "method", "string"), (3, "payload", "bytes"),
    (4, "timeout_nano", "int64"), (5, "metadata", "message*", KEY_VALUE)])
RESPONSE = Message("ttrpc.Response", [(1, "status", "message", STATUS), (2, "payload", "bytes")])

MOUNT = Message("containerd.types.Mount", [
    (1, "type", "string"), (2, "source", "string"), (3, "target", "string"),
    (4, "options", "string*")])

# containerd.v1.types.Status
UNKNOWN, CREATED, RUNNING, STOPPED, PAUSED, PAUSING = range(6)

PROCESS_INFO = Message("containerd.v1.types.ProcessInfo", [
    (1, "pid", "uint32"), (2, "info", "message", ANY)])

# containerd.task.v2
CREATE_TASK_REQUEST = Message("CreateTaskRequest", [
    (1, "id", "string"), (2, "bundle", "string"), (3, "rootfs", "message*", MOUNT),
    (4, "terminal", "bool"), (5, "stdin", "string"), (6, "stdout", "string"),
    (7, "stderr", "string"), (8, "checkpoint", "string"), (9, "parent_checkpoint", "string"),
    (10, "options", "message", ANY)])
CREATE_TASK_RESPONSE = Message("CreateTaskResponse", [(1, "pid", "uint32")])
ID_EXEC_REQUEST = Message("IdExecRequest", [(1, "id", "string"), (2, "exec_id", "string")])
DELETE_RESPONSE = Message("DeleteResponse", [
    (1, "pid", "uint32"), (2, "exit_status", "uint32"), (3, "exited_at", "message", TIMESTAMP)])
EXEC_PROCESS_REQUEST = Message("ExecProcessRequest", [
    (1, "id", "string"), (2, "exec_id", "string"), (3, "terminal", "bool"),
    (4, "stdin", "string"), (5, "stdout", "string"), (6, "stderr", "string"),
    (7, "spec", "message", ANY)])
RESIZE_PTY_REQUEST = Message("ResizePtyRequest", [
    (1, "id", "string"), (2, "exec_id", "string"), (3, "width", "uint32"),
    (4, "height", "uint32")])
STATE_RESPONSE = Message("StateResponse", [
    (1, "id", "string"), (2, "bundle", "string"), (3, "pid", "uint32"), (4, "status", "enum"),
    (5, "stdin", "string"), (6, "stdout", "string"), (7, "stderr", "string"),
    (8, "terminal", "bool"), (9, "exit_status", "uint32"),
    (10, "exited_at", "message", TIMESTAMP), (11, "exec_id", "string")])
KILL_REQUEST = Message("KillRequest", [
    (1, "id", "string"), (2, "exec_id", "string"), (3, "signal", "uint32"), (4, "all", "bool")])
CLOSE_IO_REQUEST = Message("CloseIORequest", [
    (1, "id", "string"), (2, "exec_id", "string"), (3, "stdin", "bool")])
ID_REQUEST = Message("IdRequest", [(1, "id", "string")])
PIDS_RESPONSE = Message("PidsResponse", [(1, "processes", "message*", PROCESS_INFO)])
CHECKPOINT_TASK_REQUEST = Message("CheckpointTaskRequest", [
    (1, "id", "string"), (2, "path", "string"), (3, "options", "message", ANY)])
UPDATE_TASK_REQUEST = Message("UpdateTaskRequest", [
    (1, "id", "string"), (2, "resources", "message", ANY), (3, "annotations", "map")])
PID_RESPONSE = Message("PidResponse", [(1, "pid", "uint32")])
WAIT_RESPONSE = Message("WaitResponse", [
    (1, "exit_status", "uint32"), (2, "exited_at", "message", TIMESTAMP)])
STATS_RESPONSE = Message("StatsResponse", [(1, "stats", "message", ANY)])
CONNECT_RESPONSE = Message("ConnectResponse", [
    (1, "shim_pid", "uint32"), (2, "task_pid", "uint32"), (3, "version", "string")])
SHUTDOWN_REQUEST = Message("ShutdownRequest", [(1, "id", "string"), (2, "now", "bool")])

# containerd.events
TASK_IO = Message("TaskIO", [
    (1, "stdin", "string"), (2, "stdout", "string"), (3, "stderr", "string"),
    (4, "terminal", "bool")])
EVENTS = {
    "TaskCreate": Message("containerd.events.TaskCreate", [
        (1, "container_id", "string"), (2, "bundle", "string"),
        (3, "rootfs", "message*", MOUNT), (4, "io", "message", TASK_IO),
        (5, "checkpoint", "string"), (6, "pid", "uint32")]),
    "TaskStart": Message("containerd.events.TaskStart", [
        (1, "container_id", "string"), (2, "pid", "uint32")]),
    "TaskDelete": Message("containerd.events.TaskDelete", [
        (1, "container_id", "string"), (2, "pid", "uint32"), (3, "exit_status", "uint32"),
        (4, "exited_at", "message", TIMESTAMP), (5, "id", "string")]),
    "TaskExit": Message("containerd.events.TaskExit", [
        (1, "container_id", "string"), (2, "id", "string"), (3, "pid", "uint32"),
        (4, "exit_status", "uint32"), (5, "exited_at", "message", TIMESTAMP)]),
    "TaskOOM": Message("containerd.events.TaskOOM", [(1, "container_id", "string")]),
    "TaskExecAdded": Message("containerd.events.TaskExecAdded", [
        (1, "container_id", "string"), (2, "exec_id", "string")]),
    "TaskExecStarted": Message("containerd.events.TaskExecStarted", [
        (1, "container_id", "string"), (2, "exec_id", "string"), (3, "pid", "uint32")]),
    "TaskPaused": Message("containerd.events.TaskPaused", [(1, "container_id", "string")]),
    "TaskResumed": Message("containerd.events.TaskResumed", [(1, "container_id", "string")]),
    "TaskCheckpointed": Message("containerd.events.TaskCheckpointed", [
        (1, "container_id", "string"), (2, "checkpoint", "string")]),
}
TOPICS = {
    "TaskCreate": "/tasks/create", "TaskStart": "/tasks/start", "TaskDelete": "/tasks/delete",
    "TaskExit": "/tasks/exit", "TaskOOM": "/tasks/oom", "TaskExecAdded": "/tasks/exec-added",
    "TaskExecStarted": "/tasks/exec-started", "TaskPaused": "/tasks/paused",
    "TaskResumed": "/tasks/resumed", "TaskCheckpointed": "/tasks/checkpointed",
}
ENVELOPE = Message("containerd.services.events.ttrpc.v1.Envelope", [
    (1, "timestamp", "message", TIMESTAMP), (2, "namespace", "string"), (3, "topic", "string"),
    (4, "event", "message", ANY)])
FORWARD_REQUEST = Message("ForwardRequest", [(1, "envelope", "message", ENVELOPE)])

# io.containerd.cgroups.v1.Metrics (what `ctr task metrics` prints on cgroup v1)
_ENTRY = Message("MemoryEntry", [
    (1, "limit", "uint64"), (2, "usage", "uint64"), (3, "max", "uint64"), (4, "failcnt", "uint64")])
MEMORY_STAT_FIELDS = (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pg_pg_in", "pg_pg_out",
    "pg_fault", "pg_maj_fault", "inactive_anon", "active_anon", "inactive_file", "active_file",
    "unevictable", "hierarchical_memory_limit", "hierarchical_swap_limit")
_MEMORY = Message("MemoryStat", [
    *[(i + 1, name, "uint64") for i, name in enumerate(MEMORY_STAT_FIELDS)],
    *[(i + 18, "total_" + name, "uint64") for i, name in enumerate(MEMORY_STAT_FIELDS[:15])],
    (33, "usage", "message", _ENTRY), (34, "swap", "message", _ENTRY),
    (35, "kernel", "message", _ENTRY), (36, "kernel_tcp", "message", _ENTRY)])
_CPU = Message("CPUStat", [
    (1, "usage", "message", Message("CPUUsage", [
        (1, "total", "uint64"), (2, "kernel", "uint64"), (3, "user", "uint64"),
        (4, "per_cpu", "uint64*")])),
    (2, "throttling", "message", Message("Throttle", [
        (1, "periods", "uint64"), (2, "throttled_periods", "uint64"),
        (3, "throttled_time", "uint64")]))])
_BLKIO_ENTRY = Message("BlkIOEntry", [
    (1, "op", "string"), (2, "device", "string"), (3, "major", "uint64"), (4, "minor", "uint64"),
    (5, "value", "uint64")])
BLKIO_FIELDS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queued_recursive",
                "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                "io_time_recursive", "sectors_recursive")
METRICS_V1 = Message("io.containerd.cgroups.v1.Metrics", [
    (1, "hugetlb", "message*", Message("HugetlbStat", [
        (1, "usage", "uint64"), (2, "max", "uint64"), (3, "failcnt", "uint64"),
        (4, "pagesize", "string")])),
    (2, "pids", "message", Message("PidsStat", [(1, "current", "uint64"), (2, "limit", "uint64")])),
    (3, "cpu", "message", _CPU),
    (4, "memory", "message", _MEMORY),
    (5, "blkio", "message", Message("BlkIOStat", [
        (i + 1, name, "message*", _BLKIO_ENTRY) for i, name in enumerate(BLKIO_FIELDS)])),
    (9, "memory_oom_control", "message", Message("MemoryOomControl", [
        (1, "oom_kill_disable", "uint64"), (2, "under_oom", "uint64"), (3, "oom_kill", "uint64")])),
])
METRICS_V1_URL = "io.containerd.cgroups.v1.Metrics"

# runc's shim options (runtime/v2/runc/options/oci.proto), the one options type we accept
RUNC_OPTIONS_URL = "containerd.runc.v1.Options"
RUNC_OPTIONS = Message("containerd.runc.v1.Options", [
    (1, "no_pivot_root", "bool"), (2, "no_new_keyring", "bool"), (3, "shim_cgroup", "string"),
    (4, "io_uid", "uint32"), (5, "io_gid", "uint32"), (6, "binary_name", "string"),
    (7, "root", "string"), (8, "criu_path", "string"), (9, "systemd_cgroup", "bool"),
    (10, "criu_image_path", "string"), (11, "criu_work_path", "string")])
PROCESS_DETAILS = Message("containerd.runc.v1.ProcessDetails", [(1, "exec_id", "string")])

PROCESS_SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"
RESOURCES_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"


def timestamp(seconds_float):
    """Return a Timestamp dict for a time.time() value (None or 0: the zero time)."""
    if not seconds_float:
        return {}
    ns = int(round(seconds_float * 1e9))
    return {"seconds": ns // 1_000_000_000, "nanos": ns % 1_000_000_000}


def timestamp_ns(ns):
    """Return a Timestamp dict for nanoseconds since the epoch."""
    return {"seconds": ns // 1_000_000_000, "nanos": ns % 1_000_000_000}


def now():
    """Return a Timestamp dict for the current time."""
    return timestamp_ns(time.time_ns())


def envelope(namespace, name, event, when=None):
    """Return a ForwardRequest's bytes for event NAME (a key of EVENTS) with fields EVENT."""
    body = EVENTS[name].encode(event)
    return FORWARD_REQUEST.encode({"envelope": {
        "timestamp": when or now(), "namespace": namespace, "topic": TOPICS[name],
        # the bare name: containerd's typeurl cannot decode a type.googleapis.com/ prefix
        "event": {"type_url": EVENTS[name].name, "value": body}}})
