"""The client's typed records: attributes, nested records, and the JSON they came from."""

from manager.client import results


STATE = {"id": "web", "status": "running", "pid": 42, "shim_pid": 40, "bundle": "/b",
         "runtime": "runc", "labels": {"k": "v"}, "exit_code": None, "future_field": 1,
         "processes": [{"id": "e1", "status": "stopped", "exit_code": 3}]}


def test_container_state_fields_and_nested_processes():
    state = results.ContainerState(STATE)
    assert (state.id, state.status, state.pid, state.labels) == ("web", "running", 42,
                                                                 {"k": "v"})
    assert isinstance(state.processes[0], results.ProcessState)
    assert state.processes[0].exit_code == 3 and state.processes[0].pid is None


def test_records_read_like_the_json_they_came_from():
    state = results.ContainerState(STATE)
    assert state["id"] == "web" and state.get("nope", 5) == 5 and "future_field" in state
    assert state.to_dict() == STATE and state == STATE
    assert state == results.ContainerState(dict(STATE))
    assert state != results.ContainerState(dict(STATE, status="paused"))


def test_log_record_decodes_data_and_exit_marker():
    record = results.LogRecord({"stream": "stderr", "time": "T", "data": "aGkK"})
    assert (record.stream, record.data, record["data"]) == ("stderr", b"hi\n", "aGkK")
    final = results.LogRecord({"exit_code": 7})
    assert (final.stream, final.data, final.exit_code) == (None, b"", 7)


def test_repr_names_the_fields():
    text = repr(results.ExitResult({"exit_code": 137, "oom_killed": True}))
    assert text == "ExitResult(exit_code=137, exited_at=None, oom_killed=True)"
