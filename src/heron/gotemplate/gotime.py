"""Go's time.Time subset: reference-layout formatting and parsing, zones."""

from __future__ import annotations

import re
from typing import NamedTuple

# --- Go time ----------------------------------------------------------------------------------

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]  # fmt: skip
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_UNIX_TO_ZERO = 62135596800  # seconds from 0001-01-01 (Go's zero time) to 1970-01-01


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (no datetime limits:
    Go's parser yields year 0 when a layout has no year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _wrap64(v: int) -> int:
    """Two's complement wrap-around, as Go int64 arithmetic does."""
    return ((v - _INT64_MIN) & 0xFFFFFFFFFFFFFFFF) + _INT64_MIN


class GoTime:
    """A Go time.Time: an instant (unix seconds + nanoseconds) and the zone it is shown in."""

    __slots__ = ("sec", "nsec", "offset", "zone")

    def __init__(self, sec: int, nsec: int = 0, offset: int = 0, zone: str = "UTC") -> None:
        self.sec, self.nsec, self.offset, self.zone = sec, nsec, offset, zone

    @classmethod
    def from_unix_nano(cls, ns: int) -> GoTime:
        sec, nsec = divmod(ns, 1_000_000_000)
        return cls(sec, nsec)

    @classmethod
    def zero(cls) -> GoTime:
        return cls(-_UNIX_TO_ZERO)

    def unix_nano(self) -> int:
        return _wrap64(self.sec * 1_000_000_000 + self.nsec)

    def fields(self) -> tuple[int, int, int, int, int, int, int, int]:
        """(year, month, day, hour, minute, second, weekday, yearday) in the time's zone."""
        days, rem = divmod(self.sec + self.offset, 86400)
        y, m, d = _civil_from_days(days)
        yday = days - _days_from_civil(y, 1, 1) + 1
        return y, m, d, rem // 3600, rem // 60 % 60, rem % 60, (days + 4) % 7, yday

    def string(self) -> str:
        """time.Time.String()."""
        return format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoTime):
            return NotImplemented
        return (self.sec, self.nsec, self.offset, self.zone) == (
            other.sec,
            other.nsec,
            other.offset,
            other.zone,
        )

    def __hash__(self) -> int:
        return hash((self.sec, self.nsec))

    def __repr__(self) -> str:
        return f"GoTime({self.string()!r})"


class _Chunk(NamedTuple):
    """A literal followed by one layout element, as time.nextStdChunk splits a layout."""

    literal: str
    std: str  # "" for the trailing literal
    digits: int = 0  # fractional seconds: how many digits
    sep: str = ""  # fractional seconds: "." or ","


# Tried in this order at a position whose first character may start an element.
_STD_WORDS = [
    ("January", "LongMonth"), ("Jan", "Month"), ("Monday", "LongWeekDay"), ("Mon", "WeekDay"),
    ("MST", "TZ"), ("002", "ZeroYearDay"), ("01", "ZeroMonth"), ("02", "ZeroDay"),
    ("03", "ZeroHour12"), ("04", "ZeroMinute"), ("05", "ZeroSecond"), ("06", "Year"),
    ("15", "Hour"), ("1", "NumMonth"), ("2006", "LongYear"), ("2", "Day"), ("__2", "UnderYearDay"),
    ("_2", "UnderDay"), ("3", "Hour12"), ("4", "Minute"), ("5", "Second"), ("PM", "PM"), ("pm", "pm"),
    ("-070000", "NumSecondsTZ"), ("-07:00:00", "NumColonSecondsTZ"), ("-0700", "NumTZ"),
    ("-07:00", "NumColonTZ"), ("-07", "NumShortTZ"), ("Z070000", "ISOSecondsTZ"),
    ("Z07:00:00", "ISOColonSecondsTZ"), ("Z0700", "ISOTZ"), ("Z07:00", "ISOColonTZ"), ("Z07", "ISOShortTZ"),
]  # fmt: skip
_STD_FIRST = {w[0] for w, _ in _STD_WORDS}
_LAYOUT_CACHE: dict[str, list[_Chunk]] = {}


def _layout_chunks(layout: str) -> list[_Chunk]:
    chunks = _LAYOUT_CACHE.get(layout)
    if chunks is not None:
        return chunks
    chunks = []
    lit_start = i = 0
    n = len(layout)
    while i < n:
        c = layout[i]
        std, width, digits, sep = "", 0, 0, ""
        if c in _STD_FIRST and not layout.startswith("_2006", i):  # "_2006" is "_" then a year
            if c != "0" or layout.startswith("002", i) or (i + 1 < n and "1" <= layout[i + 1] <= "6"):
                for word, name in _STD_WORDS:
                    if layout.startswith(word, i):
                        std, width = name, len(word)
                        break
                # "Jan"/"Mon" followed by a lower-case letter ("Janet", "Month") is plain text
                if std in ("Month", "WeekDay") and i + 3 < n and "a" <= layout[i + 3] <= "z":
                    std = ""
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if not (j < n and layout[j].isdigit()):
                std, width, digits, sep = ("Frac0" if layout[i + 1] == "0" else "Frac9"), j - i, j - i - 1, c
        if std:
            chunks.append(_Chunk(layout[lit_start:i], std, digits, sep))
            i += width
            lit_start = i
        else:
            i += 1
    chunks.append(_Chunk(layout[lit_start:], ""))
    if len(_LAYOUT_CACHE) < 256:
        _LAYOUT_CACHE[layout] = chunks
    return chunks


def _pad(v: int, width: int) -> str:
    return ("-" if v < 0 else "") + str(abs(v)).rjust(width, "0")


def format_time(t: GoTime, layout: str) -> str:
    """time.Time.Format(layout)."""
    year, month, day, hour, minute, second, wday, yday = t.fields()
    out: list[str] = []
    for ch in _layout_chunks(layout):
        out.append(ch.literal)
        std = ch.std
        if not std:
            continue
        if std == "LongYear":
            out.append(_pad(year, 4))
        elif std == "Year":
            out.append(_pad(year % 100, 2))
        elif std == "Month":
            out.append(_MONTHS[month - 1][:3])
        elif std == "LongMonth":
            out.append(_MONTHS[month - 1])
        elif std == "NumMonth":
            out.append(str(month))
        elif std == "ZeroMonth":
            out.append(_pad(month, 2))
        elif std == "WeekDay":
            out.append(_DAYS[wday][:3])
        elif std == "LongWeekDay":
            out.append(_DAYS[wday])
        elif std == "Day":
            out.append(str(day))
        elif std == "UnderDay":
            out.append(str(day).rjust(2))
        elif std == "ZeroDay":
            out.append(_pad(day, 2))
        elif std == "UnderYearDay":
            out.append(str(yday).rjust(3))
        elif std == "ZeroYearDay":
            out.append(_pad(yday, 3))
        elif std == "Hour":
            out.append(_pad(hour, 2))
        elif std == "Hour12":
            out.append(str(hour % 12 or 12))
        elif std == "ZeroHour12":
            out.append(_pad(hour % 12 or 12, 2))
        elif std == "Minute":
            out.append(str(minute))
        elif std == "ZeroMinute":
            out.append(_pad(minute, 2))
        elif std == "Second":
            out.append(str(second))
        elif std == "ZeroSecond":
            out.append(_pad(second, 2))
        elif std == "PM":
            out.append("PM" if hour >= 12 else "AM")
        elif std == "pm":
            out.append("pm" if hour >= 12 else "am")
        elif std == "TZ":
            out.append(t.zone if t.zone else _format_zone("NumTZ", t.offset))
        elif std.endswith("TZ"):
            out.append(_format_zone(std, t.offset))
        else:  # fractional seconds, truncated
            digits = f"{t.nsec:09d}"[: ch.digits]
            if std == "Frac9":
                digits = digits.rstrip("0")
                if not digits:
                    continue
            out.append(ch.sep + digits)
    return "".join(out)


def _format_zone(std: str, offset: int) -> str:
    if offset == 0 and std.startswith("ISO"):
        return "Z"
    z = offset // 60 if offset >= 0 else -((-offset) // 60)
    out = ("-" if offset < 0 else "+") + _pad(abs(z) // 60, 2)
    colon = "Colon" in std
    if colon:
        out += ":"
    if "Short" not in std:
        out += _pad(abs(z) % 60, 2)
    if "Seconds" in std:
        out += (":" if colon else "") + _pad(abs(offset) % 60, 2)
    return out


class _ParseError(Exception):
    """A template syntax error, turned into a Go-style TemplateError message."""


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    if not value[:1].isdigit() or not value[:1].isascii():
        raise _ParseError("bad")
    if not (len(value) > 1 and value[1].isdigit() and value[1].isascii()):
        if fixed:
            raise _ParseError("bad")
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _lookup_name(names: list[str], value: str) -> tuple[int, str]:
    for i, name in enumerate(names):
        if len(value) >= len(name) and value[: len(name)].lower() == name.lower():
            return i, value[len(name) :]
    raise _ParseError("bad")


def parse_time(layout: str, value: str) -> GoTime:
    """time.Parse (UTC default) for Go's layout elements; raises ValueError where Go fails."""
    return _parse_time(layout, value)[0]


def _parse_time(layout: str, value: str) -> tuple[GoTime, bool]:
    """time.Parse, and whether the value named its zone (offset, Z, or abbreviation)."""
    orig = value
    year, month, day, hour, minute, sec, nsec = 0, -1, -1, 0, 0, 0, 0
    yday = -1
    pm_set = am_set = False
    zone_offset: int | None = None
    zone_name: str | None = None
    utc = False
    chunks = _layout_chunks(layout)
    try:
        for k, ch in enumerate(chunks):
            value = _skip(value, ch.literal)
            std = ch.std
            if not std:
                break
            if std == "LongYear":
                if len(value) < 4 or not value[:4].isdigit():
                    raise _ParseError("bad")
                year, value = int(value[:4]), value[4:]
            elif std == "Year":
                if len(value) < 2 or not value[:2].isdigit():
                    raise _ParseError("bad")
                year, value = int(value[:2]), value[2:]
                year += 1900 if year >= 69 else 2000
            elif std in ("Month", "LongMonth"):
                names = [m[:3] for m in _MONTHS] if std == "Month" else _MONTHS
                idx, value = _lookup_name(names, value)
                month = idx + 1
            elif std in ("NumMonth", "ZeroMonth"):
                month, value = _getnum(value, std == "ZeroMonth")
                if not 1 <= month <= 12:
                    raise _ParseError("month")
            elif std in ("WeekDay", "LongWeekDay"):
                _, value = _lookup_name([d[:3] for d in _DAYS] if std == "WeekDay" else _DAYS, value)
            elif std in ("Day", "UnderDay", "ZeroDay"):
                if std == "UnderDay" and value[:1] == " ":
                    value = value[1:]
                day, value = _getnum(value, std == "ZeroDay")
            elif std in ("UnderYearDay", "ZeroYearDay"):
                value = value.lstrip(" ") if std == "UnderYearDay" else value
                m = re.match(r"[0-9]{1,3}" if std == "UnderYearDay" else r"[0-9]{3}", value)
                if not m:
                    raise _ParseError("bad")
                yday, value = int(m.group()), value[m.end() :]
            elif std in ("Hour", "Hour12", "ZeroHour12"):
                hour, value = _getnum(value, std == "ZeroHour12")
                if hour >= (24 if std == "Hour" else 13):
                    raise _ParseError("hour")
            elif std in ("Minute", "ZeroMinute"):
                minute, value = _getnum(value, std == "ZeroMinute")
                if minute >= 60:
                    raise _ParseError("minute")
            elif std in ("Second", "ZeroSecond"):
                sec, value = _getnum(value, std == "ZeroSecond")
                if sec >= 60:
                    raise _ParseError("second")
                # Go also takes a fraction here when the layout has none next.
                nxt = chunks[k + 1] if k + 1 < len(chunks) else None
                if (
                    len(value) >= 2
                    and value[0] in ".,"
                    and value[1].isdigit()
                    and not (nxt is not None and nxt.std.startswith("Frac"))
                ):
                    m = re.match(r"[.,]([0-9]+)", value)
                    assert m is not None
                    nsec = int(m.group(1)[:9].ljust(9, "0"))
                    value = value[m.end() :]
            elif std in ("PM", "pm"):  # exactly "PM"/"AM" for PM, "pm"/"am" for pm
                word = value[:2]
                if word == ("PM" if std == "PM" else "pm"):
                    pm_set = True
                elif word == ("AM" if std == "PM" else "am"):
                    am_set = True
                else:
                    raise _ParseError("bad")
                value = value[2:]
            elif std.startswith("Frac"):
                if std == "Frac0":
                    n = ch.digits
                    if len(value) < n + 1 or value[0] not in ".," or not value[1 : n + 1].isdigit():
                        raise _ParseError("bad")
                    nsec = int(value[1 : n + 1][:9].ljust(9, "0"))
                    value = value[n + 1 :]
                else:
                    m = re.match(r"[.,]([0-9]+)", value)
                    if m:
                        nsec = int(m.group(1)[:9].ljust(9, "0"))
                        value = value[m.end() :]
            elif std == "TZ":
                if value.startswith("UTC"):
                    utc, value = True, value[3:]
                else:
                    m = re.match(r"[A-Z]{3,5}", value)
                    if not m:
                        raise _ParseError("bad")
                    zone_name, value = m.group(), value[m.end() :]
            else:  # numeric / ISO 8601 zones
                if std.startswith("ISO") and value[:1] == "Z":
                    utc, value = True, value[1:]
                    continue
                colon = "Colon" in std
                pat = r"([+-])([0-9]{2})"
                if "Short" not in std:
                    pat += (":" if colon else "") + r"([0-9]{2})"
                if "Seconds" in std:
                    pat += (":" if colon else "") + r"([0-9]{2})"
                m = re.match(pat, value)
                if not m:
                    raise _ParseError("bad")
                parts = [int(x) for x in m.groups()[1:]] + [0, 0]
                zone_offset = (parts[0] * 3600 + parts[1] * 60 + parts[2]) * (-1 if m.group(1) == "-" else 1)
                value = value[m.end() :]
        if value:
            raise _ParseError("extra text")
    except _ParseError as exc:
        raise ValueError(f"parsing time {orig!r} as {layout!r}: cannot parse ({exc})") from None
    if pm_set and hour < 12:
        hour += 12
    elif am_set and hour == 12:
        hour = 0
    if yday >= 0:
        if month < 0 or day < 0:
            days = _days_from_civil(year, 1, 1) + yday - 1
            _, month, day = _civil_from_days(days)
    if month < 0:
        month = 1
    if day < 0:
        day = 1
    dim = [31, 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28, 31, 30, 31, 30, 31,
           31, 30, 31, 30, 31][month - 1]  # fmt: skip
    if day < 1 or day > dim:
        raise ValueError(f"parsing time {orig!r}: day out of range")
    wall = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + sec
    if utc:
        return GoTime(wall, nsec), True
    if zone_offset is not None:  # Go uses Local (UTC here) when the offset matches it
        return GoTime(wall - zone_offset, nsec, zone_offset, "UTC" if zone_offset == 0 else ""), True
    if zone_name is not None:  # an abbreviation Go does not know: offset 0, name kept
        return GoTime(wall, nsec, 0, zone_name), True
    return GoTime(wall, nsec), False


def _skip(value: str, prefix: str) -> str:
    """time.skip: the layout's literal must be next; a run of spaces matches one or more."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _ParseError("bad")
            prefix = prefix.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise _ParseError("bad")
        prefix, value = prefix[1:], value[1:]
    return value


def _zone_at(zone: str, wall: int) -> tuple[int, str] | None:
    """(offset, abbreviation) of an IANA zone for a wall-clock time, or None if unknown."""
    import datetime
    import zoneinfo

    try:
        tz = zoneinfo.ZoneInfo(zone)
        days, rem = divmod(wall, 86400)
        y, m, d = _civil_from_days(days)
        dt = datetime.datetime(y, m, d, rem // 3600, rem // 60 % 60, rem % 60, tzinfo=tz)
        off = dt.utcoffset()
        return (int(off.total_seconds()) if off is not None else 0), dt.tzname() or ""
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OverflowError, OSError):
        return None
