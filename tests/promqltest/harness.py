"""Runs a parsed Prometheus test file against Heron's engine under Prometheus' harness rules
(`promql/promqltest/test.go`):

- time 0 is the Unix epoch, the lookback delta is 5m, a query may hold 10,000 samples;
- floats compare as `almost.Equal` with relative epsilon 1e-6 (NaN equals NaN);
- each instant eval is re-run with `@ <t>` set on every selector (and on subqueries, whose
  insides are left alone) at the extra evaluation times Prometheus uses, unless the query
  calls a function whose answer depends on the evaluation time; and each of those instant
  queries is re-run as a range query from t-1m to t+1m step 1m, whose point at t must
  match the same expectation (unless the eval expects a string or a range vector, is
  ordered, or calls start(), end(), range() or step()).

An eval passes only if every one of those runs passes. Engine or syntax modules that do not
import yet make every eval fail with the import error, so the runner works before the engine.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heron.model import Labels, format_labels, is_stale_nan
from promqltest.memdb import MemDB
from promqltest.skips import FILE_SKIPS, query_skip_reason
from promqltest.testfile import Clear, Eval, Load, Series, TestFileError, parse_file

__all__ = [
    "Outcome",
    "FileReport",
    "run_file",
    "almost_equal",
    "with_at_modifier",
    "LOOKBACK_MS",
    "MAX_SAMPLES",
]

LOOKBACK_MS = 300_000
MAX_SAMPLES = 10_000  # Prometheus' DefaultMaxSamplesPerQuery for its test engine
EPSILON = 1e-6
QUERY_TIMEOUT_S = 100.0
_MIN_NORMAL = 2.2250738585072014e-308
_QUERY_CONTEXT_FUNCS = re.compile(r"(start|end|range|step)\(\)")
# Prometheus' AtModifierUnsafeFunctions: answers that vary with the evaluation time even
# when every argument is pinned with @.
AT_UNSAFE_FUNCTIONS = frozenset(
    {
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
        "predict_linear",
        "time",
        "timestamp",
    }
)


@dataclass
class Outcome:
    file: str
    line: int
    query: str
    status: str  # "pass", "fail" or "skip"
    detail: str = ""  # why it failed or was skipped


@dataclass
class FileReport:
    file: str
    outcomes: list[Outcome]
    skipped_file: str | None = None  # the reason the whole file was skipped

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


class EvalFailure(Exception):
    """One run of an eval did not match; the message says how."""


def almost_equal(a: float, b: float, epsilon: float = EPSILON) -> bool:
    """Prometheus' `util/almost.Equal`: both NaN counts as equal, zero compares absolutely."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon


# --- the @ re-runs -----------------------------------------------------------------------------


def with_at_modifier(expr: Any, ts_ms: int) -> tuple[Any, bool]:
    """Set `@ ts` on every selector and subquery of `expr` that has none (a subquery's own
    insides are left alone, as Prometheus' harness does). Returns the new tree and whether it
    calls a time-dependent function outside any subquery (then Prometheus skips the @ runs)."""
    from heron.promql.syntax import ast

    unsafe = False
    at = ast.AtModifier(timestamp_ms=ts_ms)

    def unset(a: Any) -> bool:
        return a is None or a.timestamp_ms is None

    def walk(node: Any) -> Any:
        nonlocal unsafe
        if isinstance(node, ast.VectorSelector):
            return dataclasses.replace(node, at=at) if unset(node.at) else node
        if isinstance(node, ast.MatrixSelector):
            return dataclasses.replace(node, vector=walk(node.vector))
        if isinstance(node, ast.SubqueryExpr):
            return dataclasses.replace(node, at=at) if unset(node.at) else node
        if isinstance(node, ast.Call):
            unsafe = unsafe or node.func in AT_UNSAFE_FUNCTIONS
            return dataclasses.replace(node, args=tuple(walk(a) for a in node.args))
        if isinstance(node, (ast.ParenExpr, ast.UnaryExpr)):
            return dataclasses.replace(node, expr=walk(node.expr))
        if isinstance(node, ast.BinaryExpr):
            return dataclasses.replace(node, lhs=walk(node.lhs), rhs=walk(node.rhs))
        if isinstance(node, ast.AggregateExpr):
            param = walk(node.param) if node.param is not None else None
            return dataclasses.replace(node, expr=walk(node.expr), param=param)
        return node

    return walk(expr), unsafe


def _at_cases(query: str, ts_ms: int) -> list[tuple[str, int]]:
    from heron.promql.syntax import format_expr, parse_expr  # type: ignore[attr-defined]

    tree, unsafe = with_at_modifier(parse_expr(query), ts_ms)
    if unsafe:
        return []
    text = format_expr(tree)
    times = [-1000, 0, 1000] if ts_ms == 0 else [-10 * ts_ms, 0, int(ts_ms / 5), ts_ms, 10 * ts_ms]
    return [(text, t) for t in times]


# --- comparing answers -------------------------------------------------------------------------


def _norm(labels: Labels) -> Labels:
    return tuple(sorted(labels))


def _fmt(labels: Labels) -> str:
    return format_labels(_norm(labels))


def _fmt_points(ts: np.ndarray, vals: np.ndarray) -> str:
    pts = [
        f"{v!r} @[{t}]" if not is_stale_nan(v) else f"stale @[{t}]"
        for t, v in zip(ts.tolist(), vals.tolist())
    ]
    return f"{len(pts)} point{'s' if len(pts) != 1 else ''} [{', '.join(pts)}]"


def _check_sorted(series: list[Any]) -> None:
    keys = [_norm(s.labels) for s in series]
    for i in range(len(keys) - 1):
        if keys[i] > keys[i + 1]:
            raise EvalFailure(
                f"matrix results should always be sorted by labels, but series {_fmt(keys[i + 1])} "
                f"sorts before {_fmt(keys[i])}"
            )


def _compare_matrix(ev: Eval, series: list[Any]) -> None:
    if ev.is_ordered:
        raise EvalFailure("expected ordered result, but query returned a matrix")
    if ev.expect_scalar is not None:
        raise EvalFailure("expected scalar result, but got matrix")
    _check_sorted(series)
    end = ev.end_ms if ev.end_ms is not None else -(2**62)  # an instant eval's zero end time
    seen = set()
    for s in series:
        key = _norm(s.labels)
        if key not in ev.expected:
            raise EvalFailure(
                f"unexpected metric {_fmt(key)} in result, has {_fmt_points(s.timestamps, s.values)}"
            )
        seen.add(key)
        want_t: list[int] = []
        want_v: list[float] = []
        for i, e in enumerate(ev.expected[key][1]):
            t = ev.start_ms + i * ev.step_ms
            if t > end:
                raise EvalFailure(
                    f"expected {len(ev.expected[key][1])} points for {_fmt(key)}, "
                    "but query time range cannot return this many points"
                )
            if not e.omitted:
                want_t.append(t)
                want_v.append(e.value)
        if len(want_t) != len(s.timestamps):
            raise EvalFailure(
                f"expected {len(want_t)} float points for {_fmt(key)}, "
                f"but got {_fmt_points(s.timestamps, s.values)}"
            )
        for i, (t, v) in enumerate(zip(want_t, want_v)):
            got_t, got_v = int(s.timestamps[i]), float(s.values[i])
            if got_t != t:
                raise EvalFailure(
                    f"expected float value at index {i} for {_fmt(key)} to have timestamp {t}, but it had "
                    f"timestamp {got_t} (result has {_fmt_points(s.timestamps, s.values)})"
                )
            if not almost_equal(got_v, v):
                raise EvalFailure(
                    f"expected float value at index {i} (t={t}) for {_fmt(key)} to be {v!r}, "
                    f"but got {got_v!r} "
                    f"(result has {_fmt_points(s.timestamps, s.values)})"
                )
    for key in ev.expected:
        if key not in seen:
            raise EvalFailure(f"expected metric {_fmt(key)} not found")


def _compare_vector(ev: Eval, samples: list[tuple[Labels, float]]) -> None:
    if ev.expect_scalar is not None:
        raise EvalFailure(f"expected scalar result, but got vector {_fmt_vector(samples)}")
    seen = set()
    for pos, (labels, value) in enumerate(samples):
        key = _norm(labels)
        if key not in ev.expected:
            raise EvalFailure(f"unexpected metric {_fmt(key)} in result, has value {value!r}")
        exp_pos, vals = ev.expected[key]
        if ev.is_ordered and exp_pos != pos + 1:
            raise EvalFailure(f"expected metric {_fmt(key)} at position {exp_pos} but was at {pos + 1}")
        want = vals[0].value if vals else 0.0
        if not almost_equal(want, value):
            raise EvalFailure(f"expected {want!r} for {_fmt(key)} but got {value!r}")
        seen.add(key)
    for key, (_, vals) in ev.expected.items():
        if key not in seen:
            raise EvalFailure(f"expected metric {_fmt(key)} with {[v.value for v in vals]} not found")


def _fmt_vector(samples: list[tuple[Labels, float]]) -> str:
    return "{" + ", ".join(f"{_fmt(labels)} => {value!r}" for labels, value in samples) + "}"


def _compare_scalar(ev: Eval, value: float) -> None:
    if ev.expect_scalar is None:
        raise EvalFailure(f"expected vector or matrix result, but got scalar {value!r}")
    if not almost_equal(ev.expect_scalar, value):
        raise EvalFailure(f"expected scalar {ev.expect_scalar!r} but got {value!r}")


def _compare_result(ev: Eval, res: Any) -> None:
    kind = res.type.value
    if kind == "matrix":
        _compare_matrix(ev, res.series)
    elif kind == "vector":
        _compare_vector(ev, [(s.labels, float(s.values[0])) for s in res.series])
    elif kind == "scalar":
        _compare_scalar(ev, float(res.scalar[1]))
    elif kind == "string":
        want = ev.expect_string
        got = res.string[1]
        if want != got:
            raise EvalFailure(f'expected string "{want}" but got "{got}"')
    else:
        raise EvalFailure(f"unexpected result type {kind!r}")


def _check_annotations(ev: Eval, query: str, warnings: list[str], infos: list[str]) -> None:
    if ev.mode == "warn" and not warnings:
        raise EvalFailure(f"expected warnings evaluating query {query!r} but got none")
    if ev.mode == "info" and not infos:
        raise EvalFailure(f"expected info annotations evaluating query {query!r} but got none")
    for kind, actual in (("warn", warnings), ("info", infos)):
        expected = ev.of(kind)
        if not expected:
            continue
        if not actual:
            raise EvalFailure(f"expected {kind} annotations but none were found for query {query!r}")
        for e in expected:
            if not any(e.matches(a) for a in actual):
                what = e.message if e.message is not None else e.regex.pattern  # type: ignore[union-attr]
                raise EvalFailure(f"expected {kind} annotation matching {what!r} but found: {actual}")
        for a in actual:
            if not any(e.matches(a) for e in expected):
                raise EvalFailure(f"unexpected {kind} annotation {a!r} found for query {query!r}")
    if ev.of("no_warn") and warnings:
        raise EvalFailure(f"unexpected warning annotations evaluating query {query!r}: {warnings}")
    if ev.of("no_info") and infos:
        raise EvalFailure(f"unexpected info annotations evaluating query {query!r}: {infos}")


def _check_expected_failure(ev: Eval, err: Exception) -> None:
    text = str(err)
    if ev.fail_message is not None and ev.fail_message != text:
        raise EvalFailure(f"expected error {ev.fail_message!r}, but got: {text}")
    if ev.fail_regexp is not None and not ev.fail_regexp.search(text):
        raise EvalFailure(f"expected error matching {ev.fail_regexp.pattern!r}, but got: {text}")
    fails = ev.of("fail")
    if fails and not fails[0].matches(text):
        what = fails[0].message if fails[0].message is not None else fails[0].regex.pattern  # type: ignore[union-attr]
        raise EvalFailure(f"expected error matching {what!r}, but got: {text}")


# --- running -----------------------------------------------------------------------------------


def _deadline() -> float:
    """Prometheus' test engine gives a query 100 s; a hung evaluation then fails its eval
    instead of stalling the whole run."""
    return time.monotonic() + QUERY_TIMEOUT_S


class _Runner:
    def __init__(self, engine: Any, query_errors: tuple[type[BaseException], ...]) -> None:
        self.engine = engine
        self.query_errors = query_errors

    def run_eval(self, ev: Eval) -> None:
        if ev.is_range:
            self._range_eval(ev)
            return
        self._instant(ev, ev.query, ev.eval_ms)
        try:
            cases = _at_cases(ev.query, ev.eval_ms)
        except self.query_errors:
            if not ev.is_fail:
                raise
            cases = []  # an expected failure that our parser already rejected: nothing to pin
        for query, t in cases:
            self._instant(ev, query, t)

    def _range_eval(self, ev: Eval) -> None:
        assert ev.end_ms is not None
        try:
            res = self.engine.range(ev.query, ev.start_ms, ev.end_ms, ev.step_ms, deadline=_deadline())
        except self.query_errors as exc:
            if ev.is_fail:
                _check_expected_failure(ev, exc)
                return
            raise EvalFailure(f"error evaluating query {ev.query!r}: {type(exc).__name__}: {exc}") from None
        if ev.is_fail:
            raise EvalFailure(f"expected error evaluating query {ev.query!r} but got none")
        _check_annotations(ev, ev.query, res.warnings, res.infos)
        _compare_result(ev, res)

    def _instant(self, ev: Eval, query: str, t: int) -> None:
        try:
            res = self.engine.instant(query, t, deadline=_deadline())
        except self.query_errors as exc:
            if ev.is_fail:
                _check_expected_failure(ev, exc)
                return
            raise EvalFailure(
                f"error evaluating query {query!r} at {t}: {type(exc).__name__}: {exc}"
            ) from None
        if ev.is_fail:
            raise EvalFailure(f"expected error evaluating query {query!r} at {t} but got none")
        _check_annotations(ev, query, res.warnings, res.infos)
        try:
            _compare_result(ev, res)
        except EvalFailure as exc:
            raise EvalFailure(f"{query} at {t}: {exc}") from None
        if ev.exclude_from_range or _QUERY_CONTEXT_FUNCS.search(query):
            return
        try:
            rng = self.engine.range(query, t - 60_000, t + 60_000, 60_000, deadline=_deadline())
        except self.query_errors as exc:
            raise EvalFailure(f"error evaluating query {query!r} at {t} in range mode: {exc}") from None
        if ev.is_ordered:
            return
        _check_sorted(rng.series)
        picked: list[tuple[Labels, float]] = []
        for s in rng.series:
            hit = np.nonzero(s.timestamps == t)[0]
            if len(hit):
                picked.append((s.labels, float(s.values[hit[0]])))
        try:
            if res.type.value == "scalar":
                if not picked:
                    raise EvalFailure("range mode returned no point for a scalar")
                _compare_scalar(ev, picked[0][1])
            else:
                _compare_vector(ev, picked)
        except EvalFailure as exc:
            raise EvalFailure(f"{query} at {t} range mode: {exc}") from None


def _load(db: MemDB, load: Load) -> None:
    for s in load.series:
        if s.histogram:
            continue
        keep = [(i, v.value) for i, v in enumerate(s.values) if not v.omitted]
        ts = np.array([i * load.interval_ms for i, _ in keep], dtype=np.int64)
        vals = np.array([v for _, v in keep], dtype=np.float64)
        db.add(s.labels, ts, vals)


def _selects_any(query: str, histograms: list[Series]) -> Series | None:
    """The first native-histogram series the query's selectors could read, if any."""
    try:
        from heron.promql.syntax import ast, parse_expr  # type: ignore[attr-defined]

        tree = parse_expr(query)
    except Exception:  # no parser yet, or a query that does not parse: judge by the text
        for h in histograms:
            name = dict(h.labels).get("__name__", "")
            if name and re.search(rf"\b{re.escape(name)}\b", query):
                return h
        return None
    selectors: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, ast.VectorSelector):
            selectors.append(node)
            return
        for f in dataclasses.fields(node):
            if f.name == "pos":
                continue
            v = getattr(node, f.name)
            for item in v if isinstance(v, tuple) else (v,):
                if dataclasses.is_dataclass(item) and not isinstance(item, type):
                    walk(item)

    walk(tree)
    for h in histograms:
        names = dict(h.labels)
        for sel in selectors:
            if sel.name and names.get("__name__") != sel.name:
                continue
            if all(m.matches(names.get(m.name, "")) for m in sel.matchers):
                return h
    return None


def _make_engine(db: MemDB) -> tuple[Any, tuple[type[BaseException], ...]]:
    from heron.promql.engine import Engine  # type: ignore[import-not-found]
    from heron.promql.syntax.errors import ParseError
    from heron.promql.value import PromQLError

    return Engine(db, lookback_delta_ms=LOOKBACK_MS, max_samples=MAX_SAMPLES), (ParseError, PromQLError)


def run_file(
    path: Path, *, grep: str | None = None, on_eval: Callable[[Outcome], None] | None = None
) -> FileReport:
    """Every eval of one test file, in order, as pass/fail/skip outcomes."""
    name = path.name
    if name in FILE_SKIPS:
        cmds = parse_file(path.read_text())
        why = FILE_SKIPS[name]
        outs = [Outcome(name, c.line, c.query, "skip", why) for c in cmds if isinstance(c, Eval)]
        return FileReport(name, outs, skipped_file=why)
    try:
        cmds = parse_file(path.read_text())
    except TestFileError as exc:
        return FileReport(name, [Outcome(name, exc.line, "", "fail", f"test file does not parse: {exc}")])
    db = MemDB()
    engine_error: str | None = None
    try:
        engine, query_errors = _make_engine(db)
    except Exception as exc:  # the engine is not there yet: every eval fails with why
        engine_error = f"engine unavailable: {type(exc).__name__}: {exc}"
        engine, query_errors = None, ()
    runner = _Runner(engine, query_errors)
    histograms: list[Series] = []
    nhcb = False
    outs: list[Outcome] = []
    for cmd in cmds:
        if isinstance(cmd, Clear):
            db.clear()
            histograms, nhcb = [], False
            continue
        if isinstance(cmd, Load):
            _load(db, cmd)
            histograms.extend(s for s in cmd.series if s.histogram)
            nhcb = nhcb or cmd.variant == "with_nhcb"
            continue
        ev = cmd
        if grep is not None and grep not in ev.query and grep not in ev.text:
            continue
        out = Outcome(name, ev.line, ev.query, "pass")
        hist = _selects_any(ev.query, histograms) if histograms else None
        if ev.error is not None:
            out.status, out.detail = "fail", f"malformed eval: {ev.error}"
        elif nhcb:
            out.status, out.detail = (
                "skip",
                "after load_with_nhcb: reads native histograms with custom buckets",
            )
        elif ev.histogram_expected:
            out.status, out.detail = "skip", "expects a native-histogram value"
        elif hist is not None:
            out.status, out.detail = "skip", f"selects native-histogram series {format_labels(hist.labels)}"
        elif (why := query_skip_reason(ev.query)) is not None:
            out.status, out.detail = "skip", why
        elif engine_error is not None:
            out.status, out.detail = "fail", engine_error
        else:
            try:
                runner.run_eval(ev)
            except EvalFailure as exc:
                out.status, out.detail = "fail", str(exc)
            except Exception as exc:  # an engine bug: report it with where it came from
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                out.status = "fail"
                out.detail = f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"
        outs.append(out)
        if on_eval is not None:
            on_eval(out)
    return FileReport(name, outs)
