"""The HTTP routes over the real core with fakes of the spawn machinery: core errors' statuses."""

import json

import pytest

from corefakes import run_core
from manager.core import errors
from manager.server import routes
from manager.server.http import HttpError, Request
from manager.spawn.launcher import LaunchError


def test_every_core_error_has_a_status_and_none_is_a_500():
    kinds = [cls for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.CoreError) and
             cls is not errors.CoreError]
    assert kinds and all(routes.status_of(cls("x")) not in (None, 500) for cls in kinds)
    assert routes.status_of(errors.CoreError("x")) == 500  # one the table forgot


def request(api, method, path, body=None):
    """Answer one request through API; return the response."""
    data = json.dumps(body).encode() if body is not None else b""
    return api.handle(Request(method, path, "HTTP/1.1", {}, data))


async def status(api, method, path, body=None):
    """Return (status, message, extra) of the error answered, or (status,) of a success."""
    try:
        answer = await request(api, method, path, body)
    except HttpError as err:
        return err.status, err.message, err.extra
    return (answer.status,)


@pytest.mark.parametrize("method, path, body, expected", [
    ("GET", "/v1/containers/c9", None, (404, "no such container: c9", {})),
    ("POST", "/v1/containers", {"id": "c1", "rootfs": "ROOT"},
     (409, "create c1: a container with this id exists", {})),
    ("POST", "/v1/containers/c1/start", None,
     (409, "start c1: container is running, not created", {})),
    ("POST", "/v1/containers/c1/exec", {"args": ["true"], "exec_id": "e1"},
     (409, "exec c1: exec id e1 exists", {})),
    ("POST", "/v1/containers/c1/resize", {"cols": 80, "rows": 24},
     (409, "resize c1: the process has no terminal", {})),
    ("DELETE", "/v1/containers/c1", None,
     (409, "delete c1: container is running; stop it first or delete with force", {})),
    ("POST", "/v1/containers/c1/kill", {"signal": "NOPE"}, (400,)),
])
def test_core_errors_are_answered_with_their_status(tmp, method, path, body, expected):
    async def scenario(core):
        api = routes.Api(core.service, core.bus, core.changes)
        assert await status(api, "POST", "/v1/containers", {"id": "c1", "rootfs": tmp}) == (201,)
        assert await status(api, "POST", "/v1/containers/c1/start") == (200,)
        assert await status(api, "POST", "/v1/containers/c1/exec",
                            {"args": ["true"], "exec_id": "e1"}) == (201,)
        sent = {k: (tmp if v == "ROOT" else v) for k, v in body.items()} if body else body
        got = await status(api, method, path, sent)
        return got if len(expected) > 1 else got[:1]
    assert run_core(tmp, scenario) == expected


def test_a_failed_launch_is_a_502_with_the_shims_exit_code(tmp):
    async def scenario(core):
        api = routes.Api(core.service, core.bus, core.changes)
        core.spawn.launch_error = LaunchError("runc create: exec: \"nope\": not found", 127)
        return await status(api, "POST", "/v1/containers",
                            {"id": "c1", "rootfs": tmp, "args": ["nope"]})
    assert run_core(tmp, scenario) == (502, 'runc create: exec: "nope": not found',
                                       {"exit_code": 127})
