"""Prometheus' printer and prettier tables (`printer_test.go` TestExprString, `prettier_test.go`).

`printer_cases.json` holds the inputs with the exact text Prometheus prints. Cases whose input
uses a feature Heron does not parse (fill(), anchored, smoothed, step()/range() durations) are
left out of the file. Duration arithmetic is folded by Heron's parser, so Prometheus' spelling
of the unfolded expression (`foo[5m * 2]`) is checked against its folded value instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from heron.promql.syntax import format_expr, parse_expr, prettify

DATA = json.loads((Path(__file__).parent / "printer_cases.json").read_text())
PRINTER: list[dict[str, Any]] = DATA["printer"]
PRETTIER: list[dict[str, Any]] = DATA["prettier"]

# Prometheus keeps `[1m + 2m]`, `offset (5m * 2)` unfolded; Heron folds them while parsing.
_DURATION_ARITHMETIC = re.compile(
    r"(\[[^\]]*[-+*/%^(][^\]]*\])|offset [-+]?\(|offset [-+]?(min|max)_of|offset [-+]?\d+\w*\s*[-+*/%^]\s*\d"
)


def _folded(case: dict[str, Any]) -> bool:
    return bool(_DURATION_ARITHMETIC.search(case["in"]))


PLAIN = [c for c in PRINTER if not _folded(c)]
FOLDED = [c for c in PRINTER if _folded(c)]
PRETTY_PLAIN = [c for c in PRETTIER if not _folded(c)]
PRETTY_FOLDED = [c for c in PRETTIER if _folded(c)]


def test_tables_are_transcribed() -> None:
    assert len(PLAIN) >= 40 and len(PRETTIER) >= 50


@pytest.mark.parametrize("case", PLAIN, ids=[c["in"][:70] for c in PLAIN])
def test_string_matches_prometheus(case: dict[str, Any]) -> None:
    expr = parse_expr(case["in"])
    assert format_expr(expr) == case["out"]
    assert str(expr) == case["out"]


@pytest.mark.parametrize("case", FOLDED, ids=[c["in"][:70] for c in FOLDED])
def test_folded_durations_print_as_their_value(case: dict[str, Any]) -> None:
    """Prometheus prints the expression, Heron its folded value: both must parse to one tree."""
    ours = parse_expr(case["in"])
    assert parse_expr(format_expr(ours)) == ours
    assert parse_expr(case["out"]) == ours


@pytest.mark.parametrize("case", PRETTY_PLAIN, ids=[f"{c['test']}:{c['in'][:60]}" for c in PRETTY_PLAIN])
def test_pretty_matches_prometheus(case: dict[str, Any]) -> None:
    expr = parse_expr(case["in"])
    pretty = prettify(expr, max_width=case["width"])
    assert pretty == case["out"]
    # The pretty text is a query too, and means the same.
    assert format_expr(parse_expr(pretty)) == format_expr(expr)


@pytest.mark.parametrize("case", PRETTY_FOLDED, ids=[f"{c['test']}:{c['in'][:60]}" for c in PRETTY_FOLDED])
def test_pretty_with_folded_durations(case: dict[str, Any]) -> None:
    expr = parse_expr(case["in"])
    assert format_expr(parse_expr(case["out"])) == format_expr(expr)
    assert format_expr(parse_expr(prettify(expr, max_width=case["width"]))) == format_expr(expr)


def test_default_width_is_prometheus_100() -> None:
    short = parse_expr('sum by (job) (rate(http_requests_total{job="api"}[5m]))')
    assert prettify(short) == format_expr(short)
    # The call is 99 bytes wide, so only the aggregation around it (113) is split.
    long = parse_expr("sum by (job) (rate(" + "a" * 90 + "[5m]))")
    assert prettify(long) == "sum by (job) (\n  rate(" + "a" * 90 + "[5m])\n)"
