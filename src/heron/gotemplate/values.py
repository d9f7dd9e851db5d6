"""Go values as a template sees them: type names, truth, and %v printing."""

from __future__ import annotations

import math
from typing import Any

from heron.gotemplate.gotime import GoTime

# --- Go values --------------------------------------------------------------------------------


def _type_name(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, GoTime):
        return "time.Time"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return type(v).__name__


def _truth(v: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings/collections are false."""
    if v is None:
        return False
    if isinstance(v, (bool, int, float, str, dict, list)):
        return bool(v)
    return True  # structs (time values)


def go_format_float(f: float, prec: int = -1) -> str:
    """Go's %v / strconv.FormatFloat(f, 'g', prec, 64): shortest digits, and the exponent form
    when the exponent is < -4 or >= 6 (or >= prec when a precision is given)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if prec >= 0:
        return f"{f:.{max(prec, 1)}g}"  # C's %g agrees with Go's once a precision is set
    digits, dp = _shortest(f)
    neg = math.copysign(1.0, f) < 0
    exp = dp - 1
    if digits != "0" and (exp < -4 or exp >= 6):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return ("-" if neg else "") + mant + ("e-" if exp < 0 else "e+") + f"{abs(exp):02d}"
    if dp <= 0:
        body = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        body = digits + "0" * (dp - len(digits))
    else:
        body = digits[:dp] + "." + digits[dp:]
    return ("-" if neg else "") + body


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of |f| (Python's repr and Go's agree) and the decimal point
    position: |f| = 0.DIGITS * 10**dp. Zero is ("0", 1)."""
    mant, _, exp = repr(abs(f)).partition("e")
    intpart, _, frac = mant.partition(".")
    raw = intpart + frac
    stripped = raw.lstrip("0")
    if not stripped.rstrip("0"):
        return "0", 1
    dp = len(intpart) + (int(exp) if exp else 0) - (len(raw) - len(stripped))
    return stripped.rstrip("0"), dp


def _format_v(v: Any, top: bool = True) -> str:
    """fmt's %v, which text/template uses to print; a nil value alone prints "<no value>"."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<no value>" if top else "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_format_float(v)
    if isinstance(v, GoTime):
        return v.string()
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_format_v(v[k], False)}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_format_v(x, False) for x in v) + "]"
    return str(v)
