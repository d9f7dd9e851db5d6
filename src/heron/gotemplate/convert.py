"""Numeric conversions as spf13/cast does them for Sprig: to int64, float64, decimal."""

from __future__ import annotations

import decimal
import math
import re
from typing import Any

from heron.gotemplate.errors import _FnError
from heron.gotemplate.gotime import _INT64_MAX, _INT64_MIN, _wrap64
from heron.gotemplate.values import go_format_float

# --- numeric conversions (spf13/cast, as Sprig uses them) ---------------------------------------

_GO_INT = re.compile(
    r"[+-]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*|0[oO]_?[0-7]+(?:_[0-7]+)*"
    r"|0_?[0-7]+(?:_[0-7]+)*|0|[1-9][0-9]*(?:_[0-9]+)*)\Z"
)
_GO_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_GO_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*(?:_[0-9a-fA-F]+)*)?[pP][+-]?[0-9]+(?:_[0-9]+)*\Z"
)
_GO_SPECIAL_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan)\Z", re.I)


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64); None where Go returns an error."""
    if not _GO_INT.match(text):
        return None
    sign = -1 if text[0] == "-" else 1
    body = text.lstrip("+-").replace("_", "")
    if len(body) > 1 and body[0] == "0" and body[1] in "xXbBoO":
        v = int(body, 0)
    elif len(body) > 1 and body[0] == "0":
        v = int(body, 8)
    else:
        v = int(body)
    v *= sign
    return v if _INT64_MIN <= v <= _INT64_MAX else None


def _parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64); None where Go returns an error (also for out of range)."""
    if _GO_SPECIAL_FLOAT.match(text):
        return float(text)
    if _GO_DEC_FLOAT.match(text):
        v = float(text)
    elif _GO_HEX_FLOAT.match(text):
        sign = -1.0 if text[0] == "-" else 1.0
        try:
            v = sign * float.fromhex(text.lstrip("+-").replace("_", ""))
        except OverflowError:
            return None
    else:
        return None
    return None if math.isinf(v) else v


def _trim_zero_decimal(s: str) -> str:
    """cast's trimZeroDecimal: "3.00" -> "3", anything else unchanged."""
    found_zero = False
    for i in range(len(s), 0, -1):
        c = s[i - 1]
        if c == ".":
            if found_zero:
                return s[: i - 1]
        elif c == "0":
            found_zero = True
        else:
            return s
    return s


def _to_int64(v: Any) -> int:
    """cast.ToInt64 with the error dropped, as Sprig does (unparseable -> 0)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return _wrap64(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v) or abs(v) >= 2.0**63:
            return _INT64_MIN  # what Go's float->int64 conversion gives on amd64
        return int(v)
    if isinstance(v, str):
        parsed = _parse_go_int(_trim_zero_decimal(v))
        return 0 if parsed is None else parsed
    return 0


def _to_float64(v: Any) -> float:
    """cast.ToFloat64 with the error dropped (unparseable -> 0)."""
    if v is None:
        return 0.0
    if isinstance(v, (bool, int, float)):
        return float(v)
    if isinstance(v, str):
        parsed = _parse_go_float(v)
        return 0.0 if parsed is None else parsed
    return 0.0


_DEC_CONTEXT = decimal.Context(prec=400, rounding=decimal.ROUND_HALF_UP, Emax=999999, Emin=-999999)


def _to_decimal(v: Any) -> decimal.Decimal:
    """shopspring decimal.NewFromFloat(toFloat64(v)): the shortest decimal of the float."""
    f = _to_float64(v)
    if math.isnan(f) or math.isinf(f):
        raise _FnError(f"Cannot create a Decimal from {go_format_float(f)}")
    return decimal.Decimal(repr(f))


def _decimal_op(first: Any, rest: tuple[Any, ...], op: str) -> float:
    acc = _to_decimal(first)
    for x in rest:
        d = _to_decimal(x)
        if op == "+":
            acc = _DEC_CONTEXT.add(acc, d)
        elif op == "-":
            acc = _DEC_CONTEXT.subtract(acc, d)
        elif op == "*":
            acc = _DEC_CONTEXT.multiply(acc, d)
        else:
            if d == 0:
                raise _FnError("decimal division by 0")
            acc = _DEC_CONTEXT.divide(acc, d).quantize(decimal.Decimal("1e-16"), context=_DEC_CONTEXT)
    return float(acc)
