"""The docker/podman conventions of the CLI (issue 13, item 7) and the stats/top formatting."""

import contextlib
import datetime
import io
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manager.cli import checks, fastparse, main as cli, resources, times
from manager.client.results import Stats
from shim.contract import layout

NOW = layout.parse_time("2026-11-23T01:00:00Z")


def parse(*argv):
    """Parse and check ARGV as `tether` does."""
    opts = cli.parse_args(list(argv))
    cli.check_opts(opts)
    return opts


@pytest.mark.parametrize("text, expected", [
    ("2026-11-23T00:33:29Z", "2026-11-23T00:33:29.000000000Z"),
    ("2026-11-23T01:33:29.5+01:00", "2026-11-23T00:33:29.500000000Z"),
    ("2026-11-22T19:33:29.123456789-05:00", "2026-11-23T00:33:29.123456789Z"),
    ("2026-11-23t00:33:29z", "2026-11-23T00:33:29.000000000Z"),
    ("2024-02-29", "2024-02-29T00:00:00.000000000Z"),
    ("1795000000", "2026-11-18T11:06:40.000000000Z"),
    ("1795000000.25", "2026-11-18T11:06:40.250000000Z"),
    ("10m", "2026-11-23T00:50:00.000000000Z"),
    ("1h30m", "2026-11-22T23:30:00.000000000Z"),
])
def test_since_takes_rfc3339_with_offsets_dates_unix_times_and_durations(text, expected):
    assert layout.format_time(times.parse_time_ns(text, NOW)) == expected


@pytest.mark.parametrize("text, why", [
    ("2026-01-45T99:99:99Z", "day 45"), ("2026-13-01T00:00:00Z", "month 13"),
    ("2026-02-29T00:00:00Z", "day 29"), ("2026-01-01T24:00:00Z", "hour 24"),
    ("2026-01-01T00:60:00Z", "minute 60"), ("2026-01-01T00:00:61Z", "second 61"),
    ("2026-01-01T00:00:00", "zone"), ("2026-01-01T00:00:00+25:00", "zone hour"),
    ("2026-01-01T00:00:00.Z", "fraction"), ("2026-01-01T00:00:00.1234567890Z", "fraction"),
    ("yesterday", "duration"), ("10", None), ("1.2.3", "duration"), ("", "duration"),
])
def test_impossible_or_malformed_times_are_refused(text, why):
    if text == "10":  # Unix seconds, not a malformed duration
        assert times.parse_time_ns(text, NOW) == 10 * 10**9
        return
    with pytest.raises(ValueError, match=why):
        times.parse_time_ns(text, NOW)


def test_the_cli_refuses_an_impossible_since_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "manager.cli.main", "--root", "/nonexistent",
                           "logs", "c1", "--since", "2026-01-45T99:99:99Z"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 125
    assert proc.stderr.count("\n") == 1 and "day 45 is out of range 1-31" in proc.stderr


@pytest.mark.parametrize("argv, signal", [
    (["kill", "c1"], 15), (["kill", "c1", "KILL"], 9), (["kill", "-s", "KILL", "c1"], 9),
    (["kill", "--signal=HUP", "c1"], 1), (["kill", "c1", "-s", "9"], 9),
])
def test_kill_takes_the_signal_as_positional_or_dash_s(argv, signal):
    assert parse(*argv).signal == signal


def test_kill_refuses_two_signals():
    with pytest.raises(cli.UsageError, match="two signals"):
        parse("kill", "-s", "KILL", "c1", "TERM")


def test_logs_tail_all_and_until():
    opts = parse("logs", "--tail", "all", "--until", "2026-11-23T00:00:00+01:00", "c1")
    assert opts.tail is None and opts.until == "2026-11-22T23:00:00.000000000Z"
    assert parse("logs", "-n", "5", "c1").tail == 5


@pytest.mark.parametrize("argv, as_json", [
    (["list"], False), (["list", "--json"], True), (["list", "--format", "json"], True),
    (["list", "--format=table"], False), (["events", "--format", "json"], True),
    (["stats", "--no-stream", "--format", "json"], True), (["top", "c1", "--json"], True),
])
def test_format_json_is_json(argv, as_json):
    assert parse(*argv).json is as_json


def test_json_and_format_table_disagree():
    with pytest.raises(cli.UsageError, match="disagree"):
        parse("list", "--json", "--format", "table")


def test_volume_and_network_are_mount_and_net():
    opts = parse("run", "-d", "c1", "--rootfs", "/", "-v", "/srv:/data:ro", "--volume=/a:/b",
                 "--mount", "/c:/d", "--network", "host")
    assert [m["destination"] for m in opts.spec["mounts"]] == ["/data", "/b", "/d"]
    assert opts.spec["mounts"][0]["readonly"] and opts.spec["net"] == "host"


@pytest.mark.parametrize("argv", [
    ["run", "-d", "c1", "--rootfs", "/", "-v", "/srv:/data:ro", "--network", "host"],
    ["kill", "-s", "KILL", "c1"], ["logs", "--tail", "all", "--until", "10m", "c1"],
    ["stats"], ["stats", "a", "b", "--no-stream", "--json"], ["top", "c1"],
    ["update", "c1", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "10"],
    ["list", "--format", "json"],
])
def test_the_new_options_take_the_fast_path_and_agree_with_argparse(argv):
    answer = fastparse.parse(argv, cli.add_global_options, cli.COMMANDS)
    assert answer is not None
    with contextlib.redirect_stderr(io.StringIO()):
        assert vars(answer) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [[], ["--root", "/nonexistent"]])
def test_a_bare_tether_prints_the_help(argv):
    proc = subprocess.run([sys.executable, "-m", "manager.cli.main", *argv],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: tether")
    assert "stats" in proc.stdout and proc.stderr == ""


def test_update_needs_a_limit_and_converts_them():
    with pytest.raises(cli.UsageError, match="nothing to change"):
        parse("update", "c1")
    assert parse("update", "c1", "-m", "1g", "--cpus", "1.5", "--pids-limit", "7").update == \
        {"memory": 1 << 30, "cpus": 1.5, "pids_limit": 7}
    with pytest.raises(cli.UsageError, match="--pids-limit"):
        parse("update", "c1", "--pids-limit", "0")


def sample(cid, usage_ns, read_ns, **memory):
    return Stats({"id": cid, "read_ns": read_ns, "cpu": {"usage_ns": usage_ns},
                  "memory": {"usage_bytes": 3 << 20, "limit_bytes": 64 << 20,
                             "host_bytes": 1 << 34, **memory},
                  "pids": {"current": 2, "limit": None},
                  "blkio": {"read_bytes": 12300, "write_bytes": 0}, "oom_kills": 1})


def test_stats_row_has_docker_columns():
    before, after = sample("c1", 10**9, 0), sample("c1", 1.5 * 10**9, 10**9)
    assert resources.stats_row(after, before) == (
        "c1", "50.00%", "3MiB / 64MiB", "4.69%", "2", "12.3kB / 0B", "1")
    assert resources.stats_row(after, None)[1] == "--"


def test_stats_memory_percent_is_of_the_host_without_a_limit():
    stats = sample("c1", 0, 0, limit_bytes=None)
    assert resources.stats_row(stats, None)[2:4] == ("3MiB / 16GiB", "0.02%")


@pytest.mark.parametrize("ns, text", [
    (0, "00:00:00"), (61 * 10**9, "00:01:01"), (3 * 3600 * 10**9, "03:00:00"),
    ((86400 + 5) * 10**9, "1-00:00:05"),
])
def test_top_time_is_as_ps_prints_it(ns, text):
    assert resources.cpu_time(ns) == text


def test_checks_keep_their_duration_parser():
    assert checks.parse_duration_ns("1h30m") == 5400 * 10**9


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime.datetime(1970, 1, 1),
                    max_value=datetime.datetime(9999, 12, 31)),
       st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_rfc3339_agrees_with_datetime(moment, offset_minutes):
    zone = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    aware = moment.replace(tzinfo=zone)
    text = aware.isoformat()
    delta = aware - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    expected_ns = (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    assert times.parse_rfc3339(text) == expected_ns


@pytest.mark.parametrize("args", [
    ["stats", "--no-stream", "c1"], ["stats"], ["top", "c1"], ["update", "c1", "--cpus", "1"],
    ["checkpoint", "c1"], ["logs", "--since", "2026-11-23T00:00:00+01:00", "--until", "10m", "c1"],
    ["run", "-d", "c1", "--rootfs", "/", "-v", "/a:/b", "--exit-command", "/bin/true"],
])
def test_the_new_commands_import_nothing_heavy(tmp, args):
    from test_cli_lean import loaded_by
    code, loaded = loaded_by("--root", f"{tmp}/none", *args)
    assert code == 125 and loaded == []


@pytest.mark.parametrize("text", ["2026-01-45T99:99:99Z", "2026-02-29T00:00:00Z",
                                  "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z"])
def test_the_api_refuses_an_impossible_since_too(text):
    from manager.server import bodies
    with pytest.raises(bodies.BadRequest, match="no such date or time"):
        bodies.parse_since({"since": text})
