"""Metrics rendering, JSON-lines log records and the sd_notify datagram (real sockets)."""

import io
import json
import logging
import os
import socket

import pytest

from manager.server import jsonlog, metrics, sdnotify
from manager.core import model


def test_histogram_buckets_are_cumulative():
    hist = metrics.Histogram()
    for seconds in (0.0005, 0.003, 0.003, 20.0):
        hist.observe(seconds)
    by_bound = dict(zip(metrics.BUCKETS, hist.counts))
    assert by_bound[0.001] == 1 and by_bound[0.005] == 3 and by_bound[10.0] == 3
    assert hist.count == 4 and hist.total == pytest.approx(20.0065)


def test_render_an_empty_manager():
    text = metrics.render(metrics.Metrics(), model.Registry(), {})
    assert text.endswith("\n")
    assert 'tether_containers{status="running"} 0' in text.splitlines()
    assert "tether_exits_total 0" in text.splitlines()
    types = [line.split()[2:] for line in text.splitlines() if line.startswith("# TYPE")]
    assert ["tether_api_request_duration_seconds", "histogram"] in types
    # Every sample belongs to a family announced before it.
    announced = set()
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            announced.add(line.split()[2])
        elif not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert any(name == f or name.startswith(f + "_") for f in announced), line


def test_render_requests_and_events():
    stats = metrics.Metrics()
    stats.observe_request("GET", "/v1/containers/{id}", 404, 0.002)
    stats.observe_request("GET", "/v1/containers/{id}", 200, 0.02)
    lines = metrics.render(stats, model.Registry(), {"exit": 3, "create": 4}).splitlines()
    assert 'tether_api_requests_total{method="GET",route="/v1/containers/{id}",code="404"} 1' \
        in lines
    assert ('tether_api_request_duration_seconds_bucket{method="GET",'
            'route="/v1/containers/{id}",le="0.005"} 1') in lines
    assert ('tether_api_request_duration_seconds_count{method="GET",'
            'route="/v1/containers/{id}"} 2') in lines
    assert "tether_exits_total 3" in lines
    assert 'tether_events_total{type="create"} 4' in lines


def test_label_values_are_escaped():
    assert metrics.label_text([("route", 'a"b\\c')]) == '{route="a\\"b\\\\c"}'


def log_line(level, msg, **extra):
    """Log through a JsonFormatter on a private logger (pytest owns the root logger)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(jsonlog.JsonFormatter())
    logger = logging.getLogger("tether.test")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.log(level, msg, extra=extra)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    return stream.getvalue()


def test_json_log_line_carries_container_and_exec_ids():
    line = log_line(logging.WARNING, "exit 3", container="web", exec_id="e1")
    assert line.endswith("\n") and line.count("\n") == 1
    record = json.loads(line)
    assert record["level"] == "warning" and record["msg"] == "exit 3"
    assert (record["container"], record["exec_id"], record["logger"]) == ("web", "e1",
                                                                          "tether.test")
    assert record["time"].endswith("Z") and len(record["time"]) == 27


def test_json_log_line_without_context_and_with_a_newline_in_the_message():
    record = json.loads(log_line(logging.INFO, "two\nlines"))
    assert "container" not in record and record["msg"] == "two\nlines"


@pytest.mark.parametrize("value,address", [
    ("/run/systemd/notify", "/run/systemd/notify"), ("@abc", "\0abc"),
    ("", None), (None, None), ("vsock:2:1234", None), ("relative", None)])
def test_notify_address(value, address):
    assert sdnotify.notify_address(value) == address


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_notify_sends_one_datagram(tmp, kind):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        if kind == "path":
            value = f"{tmp}/notify"
            sock.bind(value)
        else:
            value = f"@tether-unit-{os.getpid()}"
            sock.bind("\0" + value[1:])
        assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": value}) is True
        assert sock.recv(100) == b"READY=1"


def test_notify_without_systemd_or_with_a_dead_socket(tmp):
    assert sdnotify.notify("READY=1", {}) is False
    assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": f"{tmp}/gone"}) is False
