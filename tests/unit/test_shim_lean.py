"""The long-lived shim stays lean: no json, re, signal or selectors; cjson is json's twin."""

import json
import os
import subprocess
import sys

import pytest

from shim.contract import cjson

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Each costs 0.5-1.1 MB of private memory in every shim (bench/CHANGES.md).
HEAVY = ("json", "re", "signal", "enum", "selectors", "collections", "daemon", "logging")
PROBE = """
import sys
sys.path[:0] = [%r]
from shim import __main__, config, detach, shimlog, spawn, stdio
from shim.contract import startup
from shim import supervisor, process_io, runc_driver, native_driver
print(" ".join(m for m in %r if m in sys.modules))
""" % (REPO, HEAVY)


def test_shim_modules_do_not_import_heavy_modules():
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE], capture_output=True,
                          text=True, timeout=30, check=True)
    assert proc.stdout.split() == []


@pytest.mark.parametrize("value", [
    {}, [], "x", 0, -7, 10**30, 2.5, True, None, "é\n\"\\\x01",
    {"a": [1, {"b": None}], "c": "ü"}, [[[]]],
])
def test_cjson_matches_json(value):
    text = cjson.dumps(value)
    assert text == json.dumps(value, separators=(",", ":"))
    assert cjson.loads(text) == value
    assert cjson.loads(text.encode() + b"\n") == value


@pytest.mark.parametrize("text", ["", "{", "[1,]", "{} x", "NaN", '{"a":1}}', "nul", b"\xff"])
def test_cjson_refuses_malformed_input(text):
    with pytest.raises(ValueError):
        cjson.loads(text)


def test_cjson_dumps_nan_as_json_does():
    assert cjson.dumps(float("nan")) == json.dumps(float("nan"))
