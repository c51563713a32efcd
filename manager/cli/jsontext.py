"""Indented JSON text, as json.dumps(obj, indent=2) writes it, through shim.cjson.

The CLI prints state objects and config.json indented; the json package would
import re and its Python encoder for that (~12 ms of `tether state`), while
the C encoder cjson wires up (already loaded with shim.state) does the scalars.
"""

from shim.contract import cjson

INDENT = "  "


def key_text(key):
    """Return KEY as a JSON object key (json's rules for non-string keys)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return cjson.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def dumps_indented(obj, level=0):
    """Return OBJ as json.dumps(OBJ, indent=2) does (ASCII, ', ' and ': ' separators)."""
    inner = "\n" + INDENT * (level + 1)
    if isinstance(obj, dict) and obj:
        items = (f"{inner}{cjson.dumps(key_text(k))}: {dumps_indented(v, level + 1)}"
                 for k, v in obj.items())
        return "{" + ",".join(items) + "\n" + INDENT * level + "}"
    if isinstance(obj, (list, tuple)) and obj:
        items = (inner + dumps_indented(v, level + 1) for v in obj)
        return "[" + ",".join(items) + "\n" + INDENT * level + "]"
    return cjson.dumps(obj)
