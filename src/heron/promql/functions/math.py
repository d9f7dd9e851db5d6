"""PromQL's math functions of an instant vector: `abs`, `ceil`, `floor`, `exp`, `sqrt`, `ln`,
`log2`, `log10`, `sgn`, `round`, `clamp*`, the trigonometric ones, `deg`, `rad`, `pi`, and the
experimental scalar `max_of`/`min_of`.

Each is one numpy expression over the whole (series x steps) matrix. Where Go's `math` package
defines a result numpy does not share, the Go definition is spelled out: `math.Max`/`math.Min`
return an infinity over a NaN and order signed zeros, `Log2` is exact through `Frexp`, `Log10`
is `Log(x) * (1/Ln10)`, `deg`/`rad` multiply before dividing. Every one of these sets
`drop_name` on its output (Prometheus 3's `simpleFloatFunc` and `clamp` set `DropName`).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from heron.promql.syntax.ast import Call
from heron.promql.value import EvalContext, Scalar, Value, Vector

__all__ = ["MATH_FUNCTIONS", "go_max", "go_min"]

_LN2_INV = 1 / math.log(2)
_LN10_INV = 1 / math.log(10)


def go_max(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Go's `math.Max`, elementwise (broadcasting): +Inf wins over NaN, NaN over everything
    else, and `Max(-0, +0)` is +0. The special cases are only patched where they occur."""
    with np.errstate(invalid="ignore"):
        out = np.maximum(x, y)
        nan = np.isnan(out)
        if bool(nan.any()):
            out = np.where(nan & (np.isposinf(x) | np.isposinf(y)), np.inf, out)
        if bool((out == 0).any()):
            both_zero = (x == 0) & (y == 0)
            out = np.where(both_zero, np.where(np.signbit(x), y, x), out)
        return out


def go_min(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Go's `math.Min`, elementwise (broadcasting): -Inf wins over NaN, NaN over everything
    else, and `Min(-0, +0)` is -0."""
    with np.errstate(invalid="ignore"):
        out = np.minimum(x, y)
        nan = np.isnan(out)
        if bool(nan.any()):
            out = np.where(nan & (np.isneginf(x) | np.isneginf(y)), -np.inf, out)
        if bool((out == 0).any()):
            both_zero = (x == 0) & (y == 0)
            out = np.where(both_zero, np.where(np.signbit(x), x, y), out)
        return out


def _log2(v: np.ndarray) -> np.ndarray:
    frac, exp = np.frexp(v)
    with np.errstate(all="ignore"):
        # Go: a power of two is exact; otherwise Log(frac)/Ln2 + exp. frexp of NaN/Inf/0
        # hands back the argument as `frac`, which Log then maps as Go's Log2 does.
        return np.where(frac == 0.5, exp - 1.0, np.log(frac) * _LN2_INV + exp)


def _log10(v: np.ndarray) -> np.ndarray:
    return np.log(v) * _LN10_INV


def _sgn(v: np.ndarray) -> np.ndarray:
    return np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))


def _deg(v: np.ndarray) -> np.ndarray:
    return v * 180 / math.pi


def _rad(v: np.ndarray) -> np.ndarray:
    return v * math.pi / 180


def _dropping(vec: Vector, values: np.ndarray, present: np.ndarray | None = None) -> Vector:
    """The result of a float function of `vec`: same series, new values, names to drop."""
    return Vector(
        list(vec.labels),
        values,
        vec.present if present is None else present,
        np.ones(len(vec), dtype=bool),
    )


def _simple(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Call, list[Value], EvalContext], Value]:
    def impl(call: Call, args: list[Value], ctx: EvalContext) -> Value:
        vec = args[0]
        assert isinstance(vec, Vector)
        with np.errstate(all="ignore"):
            values = np.asarray(fn(vec.values), dtype=np.float64)
        return _dropping(vec, values)

    impl.__name__ = f"promql_{getattr(fn, '__name__', 'fn')}"
    return impl


def _scalar_arg(args: list[Value], i: int, n: int, default: float) -> np.ndarray:
    if len(args) <= i:
        return np.full(n, default)
    arg = args[i]
    assert isinstance(arg, Scalar)
    return np.asarray(arg.values, dtype=np.float64)


def _round(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    """`round(v, to_nearest=1)`: Go's `Floor(v*inv + 0.5) / inv` with `inv = 1/to_nearest`
    (ties round up; the inverse is what Prometheus multiplies by)."""
    vec = args[0]
    assert isinstance(vec, Vector)
    with np.errstate(all="ignore"):
        inv = 1.0 / _scalar_arg(args, 1, vec.steps, 1.0)[None, :]
        values = np.floor(vec.values * inv + 0.5) / inv
    return _dropping(vec, values)


def _clamp_between(vec: Vector, lo: np.ndarray, hi: np.ndarray) -> Vector:
    """`Max(lo, Min(hi, v))` per step; a step where `hi < lo` has no samples at all."""
    values = go_max(lo[None, :], go_min(hi[None, :], vec.values))
    with np.errstate(invalid="ignore"):
        inverted = hi < lo
    present = vec.present & ~inverted[None, :] if bool(inverted.any()) else vec.present
    return _dropping(vec, values, present)


def _clamp(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    vec = args[0]
    assert isinstance(vec, Vector)
    n = vec.steps
    return _clamp_between(vec, _scalar_arg(args, 1, n, -math.inf), _scalar_arg(args, 2, n, math.inf))


def _clamp_min(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    vec = args[0]
    assert isinstance(vec, Vector)
    n = vec.steps
    return _clamp_between(vec, _scalar_arg(args, 1, n, -math.inf), np.full(n, math.inf))


def _clamp_max(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    vec = args[0]
    assert isinstance(vec, Vector)
    n = vec.steps
    return _clamp_between(vec, np.full(n, -math.inf), _scalar_arg(args, 1, n, math.inf))


def _pi(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    return Scalar(np.full(len(ctx.times), math.pi))


def _max_of(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    a, b = args[0], args[1]
    assert isinstance(a, Scalar) and isinstance(b, Scalar)
    return Scalar(go_max(a.values, b.values))


def _min_of(call: Call, args: list[Value], ctx: EvalContext) -> Value:
    a, b = args[0], args[1]
    assert isinstance(a, Scalar) and isinstance(b, Scalar)
    return Scalar(go_min(a.values, b.values))


MATH_FUNCTIONS: dict[str, Callable[[Call, list[Value], EvalContext], Value]] = {
    "abs": _simple(np.abs),
    "ceil": _simple(np.ceil),
    "floor": _simple(np.floor),
    "exp": _simple(np.exp),
    "sqrt": _simple(np.sqrt),
    "ln": _simple(np.log),
    "log2": _simple(_log2),
    "log10": _simple(_log10),
    "sgn": _simple(_sgn),
    "sin": _simple(np.sin),
    "cos": _simple(np.cos),
    "tan": _simple(np.tan),
    "asin": _simple(np.arcsin),
    "acos": _simple(np.arccos),
    "atan": _simple(np.arctan),
    "sinh": _simple(np.sinh),
    "cosh": _simple(np.cosh),
    "tanh": _simple(np.tanh),
    "asinh": _simple(np.arcsinh),
    "acosh": _simple(np.arccosh),
    "atanh": _simple(np.arctanh),
    "deg": _simple(_deg),
    "rad": _simple(_rad),
    "pi": _pi,
    "round": _round,
    "clamp": _clamp,
    "clamp_min": _clamp_min,
    "clamp_max": _clamp_max,
    "max_of": _max_of,
    "min_of": _min_of,
}
