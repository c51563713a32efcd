"""The manager's log: one JSON object per line on stderr (journald keeps each line)."""

import json
import logging
import time

# Attributes a record may carry through `extra=`: copied into the line when set.
CONTEXT_KEYS = ("container", "exec_id")


def format_time(seconds):
    """Return SECONDS (Unix time) as RFC 3339 UTC with microseconds."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds % 1 * 1e6):06d}Z"


class JsonFormatter(logging.Formatter):
    """Format a record as {"time", "level", "logger", "msg", "container"?, "exec_id"?, "error"?}."""

    def format(self, record):
        """Return one JSON line (no newline: the handler adds it)."""
        line = {"time": format_time(record.created), "level": record.levelname.lower(),
                "logger": record.name, "msg": record.getMessage()}
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(stream, level="info"):
    """Log records at LEVEL or above to STREAM as JSON lines (replacing earlier handlers)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
