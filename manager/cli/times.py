"""The times users give --since and --until, as docker and podman take them (pure functions).

Accepted: RFC 3339 with a zone (2026-11-23T00:33:29Z, 2026-11-23T01:33:29.5+01:00),
a date (2026-11-23, midnight UTC), Unix seconds (1795000000, 1795000000.25),
and durations back from now (90s, 10m, 1h30m). Each field is range-checked:
calendar.timegm would turn 2026-01-45T99:99:99Z into another date.
No re, datetime or calendar: every command imports this module's caller.
"""

_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9, "d": 86400 * 10**9}
NS = 10**9
FORMS = ("an RFC 3339 time (2026-11-23T00:33:29Z, 2026-11-23T01:33:29+01:00), a date "
         "(2026-11-23), Unix seconds (1795000000) or a duration (10m, 1h30m)")


def days_in_month(year, month):
    """Return the number of days of MONTH (1-12) in YEAR (proleptic Gregorian)."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def days_from_civil(year, month, day):
    """Return the days from 1970-01-01 to YEAR-MONTH-DAY (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def digits(text, start, count):
    """Return the integer of COUNT ASCII digits at START of TEXT; ValueError otherwise."""
    part = text[start:start + count]
    if len(part) != count or not (part.isascii() and part.isdigit()):
        raise ValueError("expected digits")
    return int(part)


def check_range(value, low, high, what):
    """Raise ValueError unless LOW <= VALUE <= HIGH."""
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range {low}-{high}")


def parse_rfc3339(text):
    """Return nanoseconds since the epoch of an RFC 3339 time or a date; ValueError if not one."""
    year, month, day = digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2)
    if text[4:5] != "-" or text[7:8] != "-":
        raise ValueError("expected YYYY-MM-DD")
    check_range(month, 1, 12, "month")
    check_range(day, 1, days_in_month(year, month), "day")
    days = days_from_civil(year, month, day)
    if len(text) == 10:
        return days * 86400 * NS
    if text[10:11] not in ("T", "t", " ") or text[13:14] != ":" or text[16:17] != ":":
        raise ValueError("expected THH:MM:SS")
    hour, minute, second = digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2)
    check_range(hour, 0, 23, "hour")
    check_range(minute, 0, 59, "minute")
    check_range(second, 0, 59, "second")
    rest, frac = text[19:], 0
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end].isascii() and rest[end].isdigit():
            end += 1
        if end == 1 or end > 10:
            raise ValueError("expected 1 to 9 digits of a fraction")
        frac, rest = int(rest[1:end].ljust(9, "0")), rest[end:]
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - zone_offset(rest)
    return seconds * NS + frac


def zone_offset(text):
    """Return the seconds east of UTC of a zone: Z, +HH:MM or -HH:MM."""
    if text in ("Z", "z"):
        return 0
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        raise ValueError("expected a zone: Z, +HH:MM or -HH:MM")
    hours, minutes = digits(text, 1, 2), digits(text, 4, 2)
    check_range(hours, 0, 23, "zone hour")
    check_range(minutes, 0, 59, "zone minute")
    offset = hours * 3600 + minutes * 60
    return -offset if text[0] == "-" else offset


def parse_unix(text):
    """Return nanoseconds of Unix seconds SECONDS[.FRACTION]; ValueError otherwise."""
    whole, sep, frac = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or \
            (sep and not (frac.isascii() and frac.isdigit() and len(frac) <= 9)):
        raise ValueError("expected Unix seconds")
    return int(whole) * NS + int(frac.ljust(9, "0") if sep else 0)


def parse_duration_ns(text):
    """Return nanoseconds of a duration such as 90s, 10m, 1h30m, 1.5h; ValueError if malformed."""
    total, pos = 0, 0
    if not text:
        raise ValueError(f"invalid duration {text!r}")
    while pos < len(text):
        end = pos
        while end < len(text) and (text[end].isdigit() or text[end] == "."):
            end += 1
        unit_end = end
        while unit_end < len(text) and text[unit_end].isalpha():
            unit_end += 1
        number, unit = text[pos:end], text[end:unit_end]
        if not number.isascii() or number.count(".") > 1 or number.strip(".") == "" \
                or unit not in _UNIT_NS:
            raise ValueError(f"invalid duration {text!r}")
        total += int(float(number) * _UNIT_NS[unit])
        pos = unit_end
    return total


def parse_time_ns(text, now_ns):
    """Return nanoseconds since the epoch of a --since/--until TEXT; ValueError if none fits."""
    if len(text) >= 10 and text[4:5] == "-":
        return parse_rfc3339(text)
    if text[:1].isdigit() and text.replace(".", "", 1).isdigit():
        return parse_unix(text)
    return now_ns - parse_duration_ns(text)


def parse_time_flag(flag, text, now_ns):
    """Return nanoseconds of FLAG's TEXT; ValueError with one line naming FLAG and the forms."""
    try:
        return parse_time_ns(text, now_ns)
    except ValueError as err:
        raise ValueError(f"invalid {flag} {text!r}: {err}; expected {FORMS}") from None
