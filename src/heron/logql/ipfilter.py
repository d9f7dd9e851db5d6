"""LogQL's `ip("...")` matcher, for `|= ip(...)` line filters and `addr = ip(...)` label filters.

Semantics follow Loki (pkg/logql/log/ip.go, v3.8):

* A pattern is a single address, a CIDR prefix (`192.168.4.5/16`: host bits may be set), or an
  inclusive range `a-b` of one family with a <= b, tried in that order. IPv4 and IPv6 never
  match each other (`::ffff:1.2.3.4` is not `1.2.3.4`). Anything else is the 400
  `ip: invalid pattern: "<pattern>"`.
* A line (or label value) matches when an address *anywhere in it* matches. Loki does not split
  on words: it walks the text, and where a digit is followed by `.` within the next three bytes
  (an IPv4 hint), or a hex digit run of 1-4 ends in `:` or `::` starts a hex digit (IPv6 hints;
  past the line's end counts as no character), it takes the longest run of address characters
  from that byte, parses it, and on failure skips the run. So `abc1.2.3.4` matches 1.2.3.4 and
  `1.2.3.4.` (a trailing dot joins the run) matches nothing. We reproduce that walk exactly.

Only candidate lines pay for the Python walk: one bytes regex over the whole chunk buffer finds
the lines where a hint occurs at all (`ip_mask`), the way `linefilter` pre-selects lines.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from typing import Callable

import numpy as np

from heron.logql.result import QueryError
from heron.logql.syntax.quoting import go_quote
from heron.storage.log_chunks import LogColumns

__all__ = ["IPMatcher", "compile_ip", "ip_label_filter", "ip_mask"]

_IPV4_RUN = re.compile(rb"[0-9.]+")
_IPV6_RUN = re.compile(rb"[0-9a-fA-F:.]+")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_PREFIX_BITS = re.compile(r"0|[1-9][0-9]{0,2}")
# A superset of the places the walk below looks at: a line without any of these has no address.
_HINT = re.compile(rb"[0-9][\s\S]{0,2}\.|::[0-9a-fA-F]|[0-9a-fA-F]{1,4}:")

Addr = tuple[int, int, str]  # (version, integer value, zone)


def _parse_addr(text: str) -> Addr | None:
    """Go's `netip.ParseAddr`, as (version, int, zone), or None if it is no address."""
    if not text or text.strip() != text:
        return None
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return None
    zone = getattr(a, "scope_id", None) or ""
    return a.version, int(a), zone


class IPMatcher:
    """One compiled `ip("...")` pattern: the inclusive integer range of one family it covers."""

    def __init__(self, pattern: str, version: int, low: int, high: int, zone: str) -> None:
        self.pattern = pattern
        self.version = version
        self.low = low
        self.high = high
        self.zone = zone  # an address with a zone matches only that zone; text scans have none

    def contains(self, version: int, value: int) -> bool:
        return not self.zone and version == self.version and self.low <= value <= self.high

    def search(self, line: bytes) -> bool:
        """True if an address found in `line` (Loki's walk, see the module doc) matches.

        Loki steps byte by byte; `_HINT` jumps straight to the next byte where a hint can
        hold (its matches start exactly at such bytes), which gives the same walk."""
        n = len(line)
        i = 0
        next_hint = _HINT.search
        while i < n:
            m = next_hint(line, i)
            if m is None:
                return False
            i = m.start()
            if i + 3 < n and line[i] in _DIGITS and b"." in line[i + 1 : i + 4]:
                run = _IPV4_RUN
            elif _ipv6_hint(line, i):
                run = _IPV6_RUN
            else:  # an IPv4 hint too near the line's end
                i += 1
                continue
            span = run.match(line, i)  # never None: the hint's first byte is in the run
            end = span.end() if span else i + 1
            got = _parse_addr(line[i:end].decode("ascii"))
            if got is not None and self.contains(got[0], got[1]):
                return True
            i = end + 1
        return False

    def match_value(self, value: str) -> bool:
        """A label filter's test: Loki runs the same walk over the label's value. A template can
        leave lone surrogates in a value; they are no address characters, so any bytes do."""
        return self.search(value.encode("utf-8", "surrogatepass"))


def _ipv6_hint(line: bytes, i: int) -> bool:
    """`::` then a hex digit, or 1-4 hex digits then `:`, starting at line[i]."""
    window = line[i : i + 5]  # shorter near the end: the missing bytes match nothing
    if window[:2] == b"::":
        return len(window) > 2 and window[2] in _HEX
    for k in range(1, len(window)):
        if window[k - 1] not in _HEX:
            return False
        if window[k] == 0x3A:
            return True
    return False


def compile_ip(pattern: str) -> IPMatcher:
    """Parse a pattern as Loki does (address, then prefix, then range); a 400 if it is none."""
    single = _parse_addr(pattern)
    if single is not None:
        return IPMatcher(pattern, single[0], single[1], single[1], single[2])
    addr, slash, bits = pattern.partition("/")
    if slash and "%" not in addr and _PREFIX_BITS.fullmatch(bits):
        base = _parse_addr(addr)
        if base is not None:
            try:
                net = ipaddress.ip_network(pattern, strict=False)
            except ValueError:
                net = None
            if net is not None:
                low, high = int(net.network_address), int(net.broadcast_address)
                return IPMatcher(pattern, net.version, low, high, "")
    lo_text, dash, hi_text = pattern.partition("-")
    if dash:
        lo, hi = _parse_addr(lo_text), _parse_addr(hi_text)
        if lo is not None and hi is not None and lo[0] == hi[0] and lo[2] == hi[2] and lo[1] <= hi[1]:
            return IPMatcher(pattern, lo[0], lo[1], hi[1], lo[2])
    raise QueryError(f"ip: invalid pattern: {go_quote(pattern)}")


def ip_mask(cols: LogColumns, matcher: IPMatcher) -> np.ndarray:
    """Mask of the chunk's lines in which `matcher` finds an address (before any negation).

    One regex scan of the whole buffer finds the next line with an address hint; only that
    line is walked in Python, and the scan resumes at the next line's start."""
    n = len(cols)
    mask = np.zeros(n, dtype=bool)
    data = cols.data
    ends = cols.ends.tolist()
    search = _HINT.search
    pos = 0
    size = len(data)
    while pos < size:
        m = search(data, pos)
        if m is None:
            break
        i = bisect.bisect_right(ends, m.start())  # the line holding the hint's first byte
        start = ends[i - 1] if i else 0
        if matcher.search(data[start : ends[i]]):
            mask[i] = True
        pos = ends[i]
    return mask


def ip_label_filter(
    name: str, negate: bool, matcher: IPMatcher, error_label: str
) -> Callable[[dict[str, str]], bool]:
    """`name = ip(...)` / `name != ip(...)` as a predicate on an entry's labels.

    As in Loki: an entry that already has an error passes (only string matchers filter those),
    and an entry without the label fails for both operators."""

    def pred(lbs: dict[str, str]) -> bool:
        if error_label in lbs:
            return True
        value = lbs.get(name)
        if value is None:
            return False
        return matcher.match_value(value) != negate

    return pred
