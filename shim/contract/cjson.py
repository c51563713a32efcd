"""JSON through CPython's C accelerator `_json` alone (stdlib json's own engine).

The json package imports re and its Python-level decoder and encoder: ~1.1 MB
of private memory in every long-lived shim (bench/CHANGES.md). The C scanner
and encoder need neither; this module only wires them up as json does.
"""

try:
    import _json
except ImportError:  # not CPython: the json package is the fallback
    _json = None

_WHITESPACE = " \t\n\r"


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


class _DecodeContext:
    """The attributes the C scanner reads (as json.JSONDecoder has them)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)
    memo = {}


_scanner = _json.make_scanner(_DecodeContext()) if _json else None
_encoder = None
if _json is not None:
    try:
        _encoder = _json.make_encoder(None, None, _json.encode_basestring_ascii, None,
                                      ":", ",", False, False, False)
    except TypeError:  # another signature in a future CPython: use the json package
        _encoder = None


def loads(data):
    """Decode DATA (str or UTF-8 bytes) as one JSON value; raise ValueError if malformed."""
    if _scanner is None:
        import json
        return json.loads(data)
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    text = text.strip(_WHITESPACE)
    try:
        obj, end = _scanner(text, 0)
    except StopIteration as err:
        raise ValueError(f"expecting a JSON value at char {err.value}") from None
    except SystemError:
        # The scanner builds its error from json.decoder, looked up in sys.modules
        # only: without it (our case) it fails oddly. Malformed input is rare:
        # let the json package decode it again and raise its JSONDecodeError.
        import json
        return json.loads(text)
    if end != len(text):
        raise ValueError(f"extra data at char {end}")
    return obj


def dumps(obj):
    """Encode OBJ as compact ASCII JSON (as json.dumps with separators (",", ":"))."""
    if _encoder is None:
        import json
        return json.dumps(obj, separators=(",", ":"))
    try:
        return "".join(_encoder(obj, 0))
    except (TypeError, ValueError):
        import json  # floats (nan), odd types: json's messages and rules
        return json.dumps(obj, separators=(",", ":"))
