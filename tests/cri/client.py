"""A CRI client over grpcio's generic calls, with the codec of wire.py (no generated code)."""

import grpc

from . import messages, wire

# A restarted containerd must be reached again at once, not after gRPC's default
# reconnect backoff (1 s growing to 120 s), which would stall the restart test.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 50),
                   ("grpc.min_reconnect_backoff_ms", 50),
                   ("grpc.max_reconnect_backoff_ms", 200)]


class CriError(Exception):
    """A CRI call that failed: the gRPC status code and containerd's message."""

    def __init__(self, method, code, details):
        super().__init__(f"{method}: {code.name}: {details}")
        self.method, self.code, self.details = method, code, details


class CriClient:
    """RuntimeService and ImageService calls on a unix socket, as dicts in and out."""

    def __init__(self, socket_path, timeout=30.0):
        self.channel = grpc.insecure_channel("unix://" + socket_path, options=CHANNEL_OPTIONS)
        self.timeout = timeout
        self.calls = {}

    def close(self):
        """Close the channel (its sockets and polling fds)."""
        self.channel.close()

    def _callable(self, method):
        if method not in self.calls:
            service, request, response = messages.METHODS[method]
            self.calls[method] = self.channel.unary_unary(
                f"/{service}/{method}",
                request_serializer=lambda message, schema=request: wire.encode(schema, message),
                response_deserializer=lambda data, schema=response: wire.decode(schema, data))
        return self.calls[method]

    def call(self, method, deadline=None, **request):
        """Call METHOD (a name from messages.METHODS) with REQUEST's fields; return the reply."""
        try:
            return self._callable(method)(request, timeout=deadline or self.timeout)
        except grpc.RpcError as err:
            raise CriError(method, err.code(), err.details()) from None

    def container_state(self, container_id):
        """Return ContainerStatus's status of CONTAINER_ID."""
        return self.call("ContainerStatus", container_id=container_id)["status"]

    def container_info(self, container_id):
        """Return the verbose ContainerStatus info map (its "info" value is JSON text)."""
        return self.call("ContainerStatus", container_id=container_id, verbose=True)["info"]

    def pod_containers(self, pod_id):
        """Return ListContainers' containers of the pod POD_ID."""
        return self.call("ListContainers", filter={"pod_sandbox_id": pod_id})["containers"]

    def exec_sync(self, container_id, cmd, timeout=10):
        """Run CMD in the container; return (exit code, stdout, stderr)."""
        reply = self.call("ExecSync", deadline=timeout + 10, container_id=container_id,
                          cmd=cmd, timeout=timeout)
        return reply["exit_code"], reply["stdout"], reply["stderr"]
