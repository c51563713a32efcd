"""The OpenAPI 3 description of the v1 API (served at /v1/openapi.json)."""

import copy


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ndjson(schema, description):
    # OpenAPI 3.0 has no item schema for a sequence of JSON texts: SCHEMA is that
    # of each line. A stream that fails after its start ends with an Error line.
    return {"description": description,
            "content": {"application/x-ndjson": {"schema": {"anyOf": [schema, _ref("Error")]}}}}


_ERROR_TEXT = {400: "bad input (a malformed id, query, body or HTTP request)",
               404: "no such container or exec", 409: "wrong state or duplicate id",
               413: "body over 1 MiB", 500: "tether's own failure",
               502: "the runtime or the shim failed (its own message)"}
# The statuses each kind of route can answer, beside its own success.
_ANY = (400, 500)
_ONE = (400, 404, 500)  # about one container: its id may be malformed or unknown
_READ = _ONE + (409,)  # ... and it must be in a state that has the answer
_ACT = _READ + (413, 502)  # ... a request body, and the runtime does the work
_NO_CONTENT = {"description": "done"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string",
       "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}}


def _query(name, schema_type="string", description=""):
    return {"name": name, "in": "query", "required": False,
            "schema": {"type": schema_type}, "description": description}


_EXEC_Q = _query("exec_id", description="an exec of the container; omitted for init")


def _op(summary, responses, params=(), body=None, errors=_ANY):
    failures = {str(code): _json(_ref("Error"), _ERROR_TEXT[code]) for code in sorted(errors)}
    op = {"summary": summary, "responses": {**responses, **failures}}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


PATHS = {
    "/v1/version": {"get": _op("Version of tether and of the API", {"200": _json(
        {"type": "object", "properties": {"version": {"type": "string"},
                                          "api": {"type": "string"}}})})},
    "/v1/health": {"get": _op("Liveness of the manager", {"200": _json(
        {"type": "object", "properties": {"ok": {"type": "boolean"}}})})},
    "/v1/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})})},
    "/v1/metrics": {"get": _op("Metrics in the Prometheus text format (version 0.0.4)", {
        "200": {"description": "containers by status, live shims, exits, events, restarts, "
                               "API request counts and latencies",
                "content": {"text/plain": {"schema": {"type": "string"}}}}})},
    "/v1/events": {"get": _op("Stream of lifecycle events", {
        "200": _ndjson(_ref("Event"), "one event per line")},
        [_query("since", description="replay kept events at or after this RFC 3339 time"),
         _query("after", "integer",
                description="replay kept events whose seq is greater (resume)")])},
    "/v1/containers": {
        "get": _op("List containers, sorted by id", {"200": _json(
            {"type": "array", "items": _ref("State")})}),
        "post": _op("Create a container (status created)", {
            "201": _json(_ref("State")),
            "101": {"description": "with Upgrade: tether-attach, created, started and "
                                   "switched to its attach stream (tether run)"}},
            body=_ref("CreateBody"), errors=(400, 409, 413, 500, 502)),
    },
    "/v1/containers/{id}": {
        "get": _op("State of a container", {"200": _json(_ref("State"))}, [_ID], errors=_ONE),
        "delete": _op("Delete a stopped container (force: kill it first)", {"204": _NO_CONTENT},
                      [_ID, _query("force", description="1 to kill first")],
                      errors=_READ + (502,)),
    },
    "/v1/containers/{id}/start": {"post": _op("Start the init process",
                                              {"200": _json(_ref("State"))}, [_ID],
                                              errors=_ACT)},
    "/v1/containers/{id}/kill": {"post": _op("Send a signal", {"204": _NO_CONTENT}, [_ID],
                                             _ref("KillBody"), errors=_ACT)},
    "/v1/containers/{id}/pause": {"post": _op("Freeze the container",
                                              {"200": _json(_ref("State"))}, [_ID],
                                              errors=_ACT)},
    "/v1/containers/{id}/resume": {"post": _op("Thaw the container",
                                               {"200": _json(_ref("State"))}, [_ID],
                                               errors=_ACT)},
    "/v1/containers/{id}/exec": {"post": _op("Run another process in the container",
                                             {"201": _json(_ref("Process"))}, [_ID],
                                             _ref("ExecBody"), errors=_ACT)},
    "/v1/containers/{id}/wait": {"get": _op("Block until the process exits", {"200": _json(
        _ref("Exit"))}, [_ID, _EXEC_Q], errors=_READ)},
    "/v1/containers/{id}/resize": {"post": _op("Set the terminal size", {"204": _NO_CONTENT},
                                               [_ID], _ref("ResizeBody"),
                                               errors=_READ + (413,))},
    "/v1/containers/{id}/stats": {"get": _op(
        "One resource-usage sample of the container's cgroup, or a stream of them", {
            "200": {"description": "one Stats object; with stream=1, NDJSON: one a second "
                                   "until the container stops",
                    "content": {"application/json": {"schema": _ref("Stats")},
                                **_ndjson(_ref("Stats"), "")["content"]}}},
        [_ID, _query("stream", description="1 for one sample a second (NDJSON)")],
        errors=_READ)},
    "/v1/containers/{id}/top": {"get": _op("The processes in the container's cgroup", {
        "200": _json(_ref("Top"))}, [_ID], errors=_READ)},
    "/v1/containers/{id}/checkpoint": {"post": _op(
        "Dump the container with CRIU (runc checkpoint) into image_path; without "
        "leave_running it stops", {"200": _json(_ref("State"))}, [_ID], _ref("CheckpointBody"),
        errors=_ACT)},
    "/v1/containers/{id}/update": {"post": _op(
        "Change the memory, CPU or pids limit (runc update); refused (409) for native", {
            "200": _json(_ref("State"))}, [_ID], _ref("UpdateBody"), errors=_ACT)},
    "/v1/containers/{id}/logs": {"get": _op("The persisted output, optionally followed", {
        "200": _ndjson(_ref("LogRecord"), "one record per line, then {exit_code} when "
                                           "following ended because the process exited")},
        [_ID, _EXEC_Q, _query("follow", description="1 to follow"),
         _query("since", description="RFC 3339 time"), _query("tail", "integer"),
         _query("timestamps", description="accepted; records always carry their time")],
        errors=_ONE)},
    "/v1/containers/{id}/attach": {"get": _op(
        "Upgrade to the framed attach stream (docs/api.md, 'Attach stream')",
        {"101": {"description": "switching to tether-attach frames"}},
        [_ID, _EXEC_Q, _query("logs", description="1 to start at the start of the log"),
         {"name": "Upgrade", "in": "header", "required": True,
          "schema": {"type": "string", "enum": ["tether-attach"]}}], errors=_READ)},
}

_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time", "nullable": True}
_INT_N = {"type": "integer", "nullable": True}
_NUM_N = {"type": "number", "nullable": True}
_STR_N = {"type": "string", "nullable": True}
_STRS = {"type": "array", "items": _STR}
_SIZE = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
_PROCESS = {"id": _STR, "status": {"type": "string", "enum": [
    "created", "running", "paused", "stopped", "unknown"]}, "pid": _INT_N, "shim_pid": _INT_N,
    "created_at": _TIME, "started_at": _TIME, "exited_at": _TIME, "exit_code": _INT_N,
    "oom_killed": {"type": "boolean"}, "tty": {"type": "boolean"},
    "stdin": {"type": "boolean"}, "error": {"type": "string"},
    "dropped_bytes": {"type": "integer", "minimum": 1, "description":
                      "only when not 0: output bytes (CRI-framed) a full disk dropped"},
    "output_lost": {"type": "object", "description": "only when output was not kept: "
                    "written while no shim and no manager held its pipes",
                    "properties": {"bytes": {"oneOf": [{"type": "integer"},
                                                       {"type": "string", "enum": ["unknown"]}]},
                                   "reason": _STR}},
    "exit_hook": {"type": "object", "description": "init only, when asked for at create",
                  "properties": {"path": _STR, "args": _STRS, "delay_ns": {"type": "integer"},
                                 "timeout_ns": {"type": "integer"},
                                 "result": {"type": "object", "nullable": True,
                                            "description": "null until the hook has ended",
                                            "properties": {
                                                "path": _STR, "exit_code": _INT_N,
                                                "signal": _INT_N,
                                                "timed_out": {"type": "boolean"},
                                                "started_at": _TIME,
                                                "duration_ms": {"type": "number"},
                                                "output": _STR, "error": _STR_N}}}}}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": _STR, "exit_code": {**_INT_N, "description": "create/exec: the CLI's exit "
                                                                "code (127 not found, ...)"}}},
    "Process": {"type": "object", "required": ["id", "status"], "properties": _PROCESS},
    "State": {"type": "object", "required": ["id", "status", "labels", "processes"],
              "properties": {
        **_PROCESS, "bundle": {**_STR_N, "description": "null for a broken directory"},
        "runtime": _STR_N, "labels": {"type": "object", "additionalProperties": _STR},
        "processes": {"type": "array", "items": _ref("Process")},
        "resources": {"type": "object", "description": "the limits `update` set",
                      "properties": {"memory": {"type": "integer"}, "cpus": {"type": "number"},
                                     "pids_limit": {"type": "integer"}}}}},
    "CheckpointBody": {"type": "object", "required": ["image_path"], "properties": {
        "image_path": {"type": "string", "description": "absolute; made 0700 if missing"},
        "leave_running": {"type": "boolean"}}},
    "UpdateBody": {"type": "object", "properties": {
        "memory": {"type": "integer", "minimum": 1048576, "description": "bytes"},
        "cpus": {"type": "number", "minimum": 0.01, "maximum": 1024},
        "pids_limit": {"type": "integer", "minimum": 1}}},
    "Stats": {"type": "object", "required": ["id", "time", "read_ns", "cpu", "memory", "pids",
                                             "blkio", "oom_kills", "limits"], "properties": {
        "id": _STR, "time": {"type": "string", "format": "date-time"},
        "read_ns": {"type": "integer", "description": "CLOCK_MONOTONIC of the sample: CPU % "
                                                      "is the usage_ns delta over its delta"},
        "cgroup_version": {"type": "integer", "enum": [1, 2]},
        "online_cpus": {"type": "integer"},
        "cpu": {"type": "object", "properties": {"usage_ns": _INT_N}},
        "memory": {"type": "object", "properties": {
            "usage_bytes": {**_INT_N, "description": "usage minus the inactive page cache "
                                                     "(as docker stats)"},
            "raw_usage_bytes": _INT_N, "limit_bytes": {**_INT_N, "description": "null: none"},
            "cache_bytes": _INT_N, "host_bytes": _INT_N}},
        "pids": {"type": "object", "properties": {"current": _INT_N, "limit": _INT_N}},
        "blkio": {"type": "object", "properties": {"read_bytes": {"type": "integer"},
                                                   "write_bytes": {"type": "integer"}}},
        "oom_kills": {"type": "integer"},
        "limits": {"type": "object", "properties": {
            "memory_bytes": _INT_N, "cpus": _NUM_N, "pids": _INT_N}}}},
    "Top": {"type": "object", "required": ["id", "processes"], "properties": {
        "id": _STR, "processes": {"type": "array", "items": {
            "type": "object", "required": ["pid", "user", "cpu_ns", "command"], "properties": {
                "pid": {"type": "integer", "description": "on the host"},
                "ppid": {"type": "integer"}, "uid": {"type": "integer"}, "user": _STR,
                "cpu_ns": {"type": "integer"}, "command": _STR, "args": _STRS}}}}},
    "CreateBody": {"type": "object", "required": ["id"], "properties": {
        "id": _STR, "bundle": _STR, "rootfs": _STR, "args": _STRS, "tty": {"type": "boolean"},
        "stdin": {"type": "boolean"}, "env": _STRS, "cwd": _STR, "runtime": _STR,
        "labels": {"type": "object", "additionalProperties": _STR}, "console_size": _SIZE,
        "log_max_size": {"type": "integer"}, "log_max_files": {"type": "integer"},
        "start": {"type": "boolean", "description": "also start the process"},
        "checkpoint": {"type": "string", "description": "restore from this image directory "
                                                        "(runc restore; implies start)"},
        "exit_command": {"type": "object", "required": ["path"], "description":
                         "run by the shim once the exit status is written", "properties": {
                             "path": {"type": "string", "description": "absolute"},
                             "args": _STRS, "delay_ns": {"type": "integer", "minimum": 0},
                             "timeout_ns": {"type": "integer", "minimum": 0}}},
        "auto_remove": {"type": "boolean",
                        "description": "remove the container once it has exited (--rm)"},
        "user": {"type": "object",
                 "properties": {"uid": {"type": "integer"}, "gid": {"type": "integer"}}},
        "hostname": _STR, "memory": {"type": "integer", "description": "bytes"},
        "cpus": {"type": "number"}, "pids_limit": {"type": "integer"},
        "net": {"type": "string", "enum": ["host", "none"]},
        "mounts": {"type": "array", "items": {"type": "object", "properties": {
            "source": _STR, "destination": _STR, "readonly": {"type": "boolean"}}}}}},
    "ExecBody": {"type": "object", "required": ["args"], "properties": {
        "exec_id": _STR, "args": _STRS, "env": _STRS, "cwd": _STR, "tty": {"type": "boolean"},
        "stdin": {"type": "boolean"}, "console_size": _SIZE}},
    "KillBody": {"type": "object", "properties": {
        "signal": {"oneOf": [_STR, {"type": "integer"}]}, "all": {"type": "boolean"},
        "exec_id": {"type": "string", "nullable": True}}},
    "ResizeBody": {"type": "object", "required": ["cols", "rows"], "properties": {
        "cols": {"type": "integer"}, "rows": {"type": "integer"},
        "exec_id": {"type": "string", "nullable": True}}},
    "Exit": {"type": "object", "required": ["exit_code"], "properties": {
        "exit_code": {"type": "integer"}, "exited_at": _TIME, "oom_killed": {"type": "boolean"}}},
    "LogRecord": {"type": "object", "description": "a record, or the last line of a follow: "
                                                   "{exit_code}", "properties": {
        "stream": {"type": "string", "enum": ["stdout", "stderr"]}, "time": _TIME,
        "data": {"type": "string", "format": "byte"}, "exit_code": {"type": "integer"}}},
    "Event": {"type": "object", "required": ["type", "id", "time"], "properties": {
        "type": {"type": "string", "enum": ["create", "start", "exit", "oom", "delete",
                                            "pause", "resume", "shim-lost", "checkpoint",
                                            "output-lost"]},
        "id": _STR, "exec_id": {"type": "string", "nullable": True}, "time": _TIME,
        "exit_code": _INT_N, "pid": _INT_N,
        "bytes": {"description": "output-lost: bytes lost, or \"unknown\""},
        "reason": {"type": "string", "description": "output-lost: why the output was lost"},
        "seq": {"type": "integer", "description": "number in the event journal"}}},
}


def document(version):
    """Return the OpenAPI 3 document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "tether manager API", "version": version,
                 "description": "HTTP/1.1 + JSON over the unix socket ROOT/tether.sock; "
                                "see docs/api.md. Every route may also answer malformed HTTP "
                                "with 400, 411 (a chunked request body), 431 (a head over "
                                "64 KiB) or 505 (another HTTP version), and a known path "
                                "with another method with 405, each with an Error body."},
        "servers": [{"url": "http://tether"}],
        "paths": copy.deepcopy(PATHS),
        "components": {"schemas": copy.deepcopy(SCHEMAS)},
    }
