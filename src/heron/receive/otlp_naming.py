"""OpenTelemetry -> Prometheus metric names and units, as Prometheus' OTLP receiver builds them.

The rules are the OpenTelemetry specification's "Prometheus and OpenMetrics compatibility"
with suffixes added (Prometheus' default translation strategy, `otlptranslator.MetricNamer`
with metric suffixes and without UTF-8): the name is split into tokens at every character
outside `[a-zA-Z0-9:]` (so runs of `_` collapse), the unit's words are appended unless a
token already says them (`s` -> `seconds`, `By/s` -> `bytes_per_second`, `{request}` -> no
word), a monotonic sum gets `total` last, a gauge with unit `1` gets `ratio`, and a leading
digit gets a `_` prefix.
"""

from __future__ import annotations

import re

__all__ = ["metric_name", "prom_unit", "MONOTONIC_COUNTER", "GAUGE", "NON_MONOTONIC", "HISTOGRAM", "SUMMARY"]

MONOTONIC_COUNTER = "monotonic_counter"
NON_MONOTONIC = "non_monotonic_counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"
SUMMARY = "summary"

# otlptranslator's unitMap (UCUM case-sensitive codes to Prometheus' base-unit words).
_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_NOT_METRIC_CHARS = re.compile(r"[^a-zA-Z0-9:]+")
_INVALID_UNIT_CHARS = re.compile(r"[^a-zA-Z0-9:_]")
_UNDERSCORES = re.compile(r"__+")


def _unit_suffixes(unit: str) -> tuple[str, str]:
    """(main word, `per_` word) of a unit such as `By/s`; braces mark an annotation, not a unit."""
    main_otel, slash, per_otel = unit.partition("/")
    main_otel = main_otel.strip()
    main = ""
    if main_otel and "{" not in main_otel and "}" not in main_otel:
        main = _UNITS.get(main_otel, main_otel)
    per = ""
    if slash and per_otel:
        per_otel = per_otel.strip()
        if per_otel and "{" not in per_otel and "}" not in per_otel:
            per = _PER_UNITS.get(per_otel, per_otel)
        if per:
            per = "per_" + per
    return main, per


def _clean_unit(word: str) -> str:
    return _UNDERSCORES.sub("_", _INVALID_UNIT_CHARS.sub("_", word)).removeprefix("_")


def prom_unit(unit: str) -> str:
    """The unit as Prometheus metadata names it (`s` -> `seconds`, `By/s` -> `bytes_per_second`)."""
    main, per = (_clean_unit(w) for w in _unit_suffixes(unit))
    text = f"{main}_{per}" if main and per else main or per
    return text.strip("_") if text.startswith("_") or text.endswith("_") else text


def metric_name(name: str, unit: str, kind: str) -> str:
    """The Prometheus name for an OTLP metric of `kind` (one of this module's type constants);
    empty when nothing of the name survives (the caller refuses such a metric)."""
    tokens = [t for t in _NOT_METRIC_CHARS.split(name) if t]
    main, per = (_clean_unit(w) for w in _unit_suffixes(unit))
    if main in tokens:
        main = ""
    if per == "per_":
        per = ""
    else:
        per = per.removesuffix("_")
        if per in tokens:
            per = ""
    if per:
        main = main.removesuffix("_")
    if main:
        tokens.append(main)
    if per:
        tokens.append(per)
    if kind == MONOTONIC_COUNTER:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == GAUGE:
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    if out and out[0].isdigit():
        out = "_" + out
    if not out.strip("_"):
        return ""
    return out
