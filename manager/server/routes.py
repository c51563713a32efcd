"""The v1 routes of docs/api.md, on top of the service."""

import base64
import re
import time

from manager.core import attach, errors, output
from manager.server import bodies, metrics, openapi
from manager.server.http import HttpError, Response, StreamResponse, TextResponse, UpgradeResponse

VERSION = "0.1.0"
ATTACH_PROTOCOL = "tether-attach"

# (method, path template, handler name); {id} matches one path segment.
ROUTES = [
    ("GET", "/v1/version", "get_version"),
    ("GET", "/v1/health", "get_health"),
    ("GET", "/v1/openapi.json", "get_openapi"),
    ("GET", "/v1/metrics", "get_metrics"),
    ("GET", "/v1/events", "get_events"),
    ("GET", "/v1/containers", "list_containers"),
    ("POST", "/v1/containers", "create_container"),
    ("GET", "/v1/containers/{id}", "get_container"),
    ("DELETE", "/v1/containers/{id}", "delete_container"),
    ("POST", "/v1/containers/{id}/start", "start_container"),
    ("POST", "/v1/containers/{id}/kill", "kill_container"),
    ("POST", "/v1/containers/{id}/pause", "pause_container"),
    ("POST", "/v1/containers/{id}/resume", "resume_container"),
    ("POST", "/v1/containers/{id}/exec", "exec_container"),
    ("GET", "/v1/containers/{id}/wait", "wait_container"),
    ("POST", "/v1/containers/{id}/resize", "resize_container"),
    ("GET", "/v1/containers/{id}/logs", "get_logs"),
    ("GET", "/v1/containers/{id}/attach", "attach_container"),
    ("GET", "/v1/containers/{id}/stats", "get_stats"),
    ("GET", "/v1/containers/{id}/top", "get_top"),
    ("POST", "/v1/containers/{id}/update", "update_container"),
    ("POST", "/v1/containers/{id}/checkpoint", "checkpoint_container"),
]


def compile_routes(routes):
    """Return [(method, regex, handler name)] for ROUTES."""
    compiled = []
    for method, template, name in routes:
        pattern = re.escape(template).replace(re.escape("{id}"), "(?P<id>[^/]+)")
        compiled.append((method, re.compile(pattern), name))
    return compiled


# The metrics' route label: the template, so that ids do not multiply the series.
TEMPLATES = {name: template for _method, template, name in ROUTES}


def match_route(compiled, method, path):
    """Return (handler name, path params); 404 for no path, 405 for a wrong method."""
    allowed = []
    for route_method, regex, name in compiled:
        match = regex.fullmatch(path)
        if match:
            if route_method == method:
                return name, match.groupdict()
            allowed.append(route_method)
    if allowed:
        raise HttpError(405, f"{method} {path}: method not allowed (use {', '.join(allowed)})")
    raise HttpError(404, f"{method} {path}: no such route")


# The core's errors as status codes (the containerd front end maps the same
# errors to gRPC codes).
STATUS = {
    errors.InvalidArgument: 400,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.WrongState: 409,
    errors.RuntimeFailed: 502,
}


def status_of(err):
    """Return the HTTP status of the core error ERR (500 for one not in STATUS)."""
    return next((code for cls, code in STATUS.items() if isinstance(err, cls)), 500)


def wrap_errors(handler):
    """Turn BadRequest from body validation into 400 and the core's errors into their status."""
    async def wrapped(request, **params):
        """Call the handler; map BadRequest and the core's errors to HttpError."""
        try:
            return await handler(request, **params)
        except bodies.BadRequest as err:
            raise HttpError(400, str(err)) from err
        except errors.CoreError as err:
            raise HttpError(status_of(err), err.message, **err.extra) from err
    return wrapped


def record_dict(record):
    """Return the NDJSON object of one log record."""
    return {"stream": record.stream, "time": record.time,
            "data": base64.b64encode(record.payload()).decode("ascii")}


class Api:
    """Dispatch requests to the route handlers."""

    def __init__(self, service, bus, changes, stats=None):
        self.service = service
        self.events = bus
        self.changes = changes
        self.routes = compile_routes(ROUTES)
        self.stats = stats or metrics.Metrics()

    async def handle(self, request):
        """Answer one request; count it and its latency by route and status."""
        started, route, code = time.monotonic(), "unmatched", 500
        try:
            name, params = match_route(self.routes, request.method, request.path)
            route = TEMPLATES[name]
            answer = await wrap_errors(getattr(self, name))(request, **params)
            code = getattr(answer, "status", 101 if isinstance(answer, UpgradeResponse) else 200)
            return answer
        except HttpError as err:
            code = err.status
            raise
        finally:
            self.stats.observe_request(request.method, route, code, time.monotonic() - started)

    async def get_metrics(self, request):
        """Answer the metrics in the Prometheus text format."""
        text = metrics.render(self.stats, self.service.registry, self.events.counts)
        return TextResponse(text, metrics.CONTENT_TYPE)

    async def get_version(self, request):
        """Answer the version."""
        return Response(200, {"version": VERSION, "api": "v1"})

    async def get_health(self, request):
        """Answer that the manager is alive."""
        return Response(200, {"ok": True})

    async def get_openapi(self, request):
        """Answer the OpenAPI document."""
        return Response(200, openapi.document(VERSION))

    async def get_events(self, request):
        """Stream events as NDJSON."""
        since = bodies.parse_since(request.query)
        after = bodies.parse_after(request.query)
        return StreamResponse(self.events.subscribe(since, after))

    async def list_containers(self, request):
        """List the state objects, sorted by id."""
        return Response(200, [c.to_dict() for c in self.service.registry.visible_containers()])

    async def create_container(self, request):
        """Create a container; with the attach upgrade, also start it and attach (`run`)."""
        if request.wants_upgrade(ATTACH_PROTOCOL):
            return await self._run_attached(request.json())
        container = await self.service.create(bodies.parse_create(request.json()))
        return Response(201, container.to_dict())

    async def _run_attached(self, body):
        # One request for an attached `run`: create, start (one `runc run -d`),
        # then the attach stream of the init process from the log's beginning.
        # The container is held from before its start: an --rm container that
        # exits at once is removed only after this stream has sent everything.
        container = await self.service.create(bodies.parse_create({**body, "start": True}),
                                              hold=True)
        return self._attach_stream(container.init, True)

    def _attach_stream(self, proc, from_start):
        """Answer the attach stream of PROC, whose container the caller holds."""
        async def run(reader, writer):
            """Serve the attach stream on the upgraded connection."""
            try:
                await attach.serve_attach(self.changes, proc, from_start, reader, writer,
                                          self.service)
            finally:
                proc.container.release()
        return UpgradeResponse(ATTACH_PROTOCOL, run, proc.container.release)

    async def get_container(self, request, id):
        """Answer one state object."""
        return Response(200, self.service.container(id).to_dict())

    async def delete_container(self, request, id):
        """Delete a container."""
        await self.service.delete(id, force=bodies.parse_flag(request.query, "force"))
        return Response(204)

    async def start_container(self, request, id):
        """Start the init process."""
        return Response(200, (await self.service.start(id)).to_dict())

    async def kill_container(self, request, id):
        """Send a signal."""
        signum, all_processes, exec_id = bodies.parse_kill(request.json())
        await self.service.kill(id, signum, all_processes, exec_id)
        return Response(204)

    async def pause_container(self, request, id):
        """Freeze the container."""
        return Response(200, (await self.service.pause(id, True)).to_dict())

    async def resume_container(self, request, id):
        """Thaw the container."""
        return Response(200, (await self.service.pause(id, False)).to_dict())

    async def exec_container(self, request, id):
        """Start an exec."""
        proc = await self.service.exec(id, bodies.parse_exec(request.json()))
        return Response(201, proc.to_dict())

    async def wait_container(self, request, id):
        """Wait for an exit."""
        exec_id = bodies.parse_exec_id(request.query.get("exec_id"))
        return Response(200, await self.service.wait(id, exec_id))

    async def resize_container(self, request, id):
        """Resize a terminal."""
        cols, rows, exec_id = bodies.parse_resize(request.json())
        self.service.resize(id, cols, rows, exec_id)
        return Response(204)

    async def get_logs(self, request, id):
        """Stream log records as NDJSON."""
        query = request.query
        proc = self.service.process(id, bodies.parse_exec_id(query.get("exec_id")))
        follow = bodies.parse_flag(query, "follow")
        records = output.process_records(self.changes, proc, follow,
                                       since_ns=bodies.parse_since(query),
                                       tail=bodies.parse_tail(query))
        return StreamResponse(self._log_objects(proc, records, follow))

    async def _log_objects(self, proc, records, follow):
        async for record in records:
            yield record_dict(record)
        if follow and proc.exit_code is not None:
            yield {"exit_code": proc.exit_code}

    async def attach_container(self, request, id):
        """Upgrade to the attach stream."""
        query = request.query
        proc = self.service.process(id, bodies.parse_exec_id(query.get("exec_id")))
        if not request.wants_upgrade(ATTACH_PROTOCOL):
            raise HttpError(400, f"attach {id}: send Connection: Upgrade and "
                                 f"Upgrade: {ATTACH_PROTOCOL}")
        from_start = bodies.parse_flag(query, "logs")

        proc.container.hold()  # no auto-removal before this stream has sent it all
        return self._attach_stream(proc, from_start)

    async def get_stats(self, request, id):
        """Answer one stats sample, or with stream=1 one NDJSON line a second."""
        if bodies.parse_flag(request.query, "stream"):
            return StreamResponse(self.service.stats_stream(id))
        return Response(200, self.service.stats(id))

    async def get_top(self, request, id):
        """Answer the processes of a container."""
        return Response(200, self.service.top(id))

    async def update_container(self, request, id):
        """Change a container's limits."""
        return Response(200, (await self.service.update(id, request.json())).to_dict())

    async def checkpoint_container(self, request, id):
        """Checkpoint a container with CRIU."""
        return Response(200, (await self.service.checkpoint(id, request.json())).to_dict())
