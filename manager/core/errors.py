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


def refuse_newer(container, verb):
    """Raise WrongState if a process directory of CONTAINER speaks a newer contract.

    Such a directory belongs to a newer release's shim: kill and delete would act
    on files read with the wrong rules, so they are left to that release.
    """
    for proc in container.processes():
        if proc.newer_contract:
            raise WrongState(f"{verb} {container.id}: {proc.error}: left to the release "
                             "that wrote it")
