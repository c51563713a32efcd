"""The core's errors as gRPC codes, runtime options and exec specs (no processes)."""

import pytest

from manager.containerd import messages, taskspec, ttrpc
from manager.core import errors


@pytest.mark.parametrize("err, code", [
    (errors.InvalidArgument("bad"), ttrpc.INVALID_ARGUMENT),
    (errors.NotFound("x"), ttrpc.NOT_FOUND),
    (errors.AlreadyExists("x"), ttrpc.ALREADY_EXISTS),
    (errors.WrongState("x"), ttrpc.FAILED_PRECONDITION),
    (errors.RuntimeFailed("runc said no"), ttrpc.UNKNOWN), (ValueError("odd"), ttrpc.UNKNOWN),
])
def test_core_errors_map_to_grpc_codes(err, code):
    mapped = taskspec.to_grpc(err)
    assert mapped.code == code and mapped.message == str(err)


def runc_options(**fields):
    return {"type_url": messages.RUNC_OPTIONS_URL, "value": messages.RUNC_OPTIONS.encode(fields)}


@pytest.mark.parametrize("options, binary", [
    (None, "runc"), ({"type_url": "", "value": b""}, "runc"),
    (runc_options(binary_name="/usr/sbin/runc"), "/usr/sbin/runc"),
])
def test_accepted_runtime_options(options, binary):
    assert taskspec.check_options(options) == binary


@pytest.mark.parametrize("options, words", [
    ({"type_url": "runtimeoptions.v1.Options", "value": b"\n\x01x"}, "runtimeoptions.v1.Options"),
    (runc_options(systemd_cgroup=True), "systemd_cgroup"),
])
def test_refused_runtime_options_name_what_is_refused(options, words):
    with pytest.raises(ttrpc.RpcError) as err:
        taskspec.check_options(options)
    assert err.value.code == ttrpc.INVALID_ARGUMENT and words in err.value.message


def test_exec_options_from_a_process_spec():
    spec = {"args": ["sh"], "env": ["A=1"], "cwd": "/tmp", "consoleSize": {"width": 100,
                                                                          "height": 30}}
    opts = taskspec.exec_options("e1", spec, True, False)
    assert opts["args"] == ["sh"] and opts["console_size"] == [100, 30] and opts["cwd"] == "/tmp"
    assert taskspec.exec_options("e2", spec, False, True)["console_size"] is None
