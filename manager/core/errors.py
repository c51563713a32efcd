"""The core's own errors: what went wrong, in words every front end can map.

The HTTP server maps them to status codes (manager/server/routes.py, STATUS),
the containerd front end to gRPC codes; the core itself knows neither.
"""


class CoreError(Exception):
    """A refused or failed operation: MESSAGE is one line; EXTRA goes to the answer."""

    def __init__(self, message, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class InvalidArgument(CoreError):
    """A malformed id or an option that contradicts the bundle."""


class NotFound(CoreError):
    """No such container or exec (or it was deleted meanwhile)."""


class AlreadyExists(CoreError):
    """A container or exec with this id exists."""


class WrongState(CoreError):
    """The operation needs another status (start a running container, kill a stopped one)."""


class RuntimeFailed(CoreError):
    """The runtime or the shim refused or failed (its own message; exit_code in EXTRA)."""
