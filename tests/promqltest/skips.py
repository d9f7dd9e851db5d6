"""What the conformance runner skips, and why: each rule names a feature Heron leaves out.

Skips are by name, never silent failures: a whole file for an experimental feature, or one
eval that reads native histograms (Heron stores float samples only) or uses an experimental
syntax the issue leaves out. Everything else is run and counted.
"""

from __future__ import annotations

import re

__all__ = ["CORE_FILES", "FILE_SKIPS", "query_skip_reason"]

CORE_FILES: tuple[str, ...] = (
    "aggregators.test",
    "at_modifier.test",
    "collision.test",
    "functions.test",
    "literals.test",
    "name_label_dropping.test",
    "operators.test",
    "range_queries.test",
    "selectors.test",
    "staleness.test",
    "subquery.test",
    "trig_functions.test",
)

FILE_SKIPS: dict[str, str] = {
    "native_histograms.test": "native histograms: Heron stores float samples only",
    "duration_expression.test": "experimental duration expressions (the promql-duration-expr feature)",
    "extended_vectors.test": "experimental anchored/smoothed range selectors (extended range selectors)",
    "fill-modifier.test": "experimental fill()/fill_left()/fill_right() binary-operator modifiers",
    "info.test": "experimental info() function (joins target_info metadata)",
    "start_timestamps.test": "start timestamps (`@st` sample lines): Heron stores no start timestamps",
    "type_and_unit.test": "experimental __type__/__unit__ labels (type-and-unit-labels feature)",
}

# Experimental syntax inside otherwise-run files, matched on the query text.
_QUERY_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\binfo\s*\("), "experimental info() function"),
    (re.compile(r"\]\s*(anchored|smoothed)\b"), "experimental anchored/smoothed range selector"),
    (re.compile(r"\b(fill|fill_left|fill_right)\s*\("), "experimental fill modifier"),
)


# step(), range(), start() and end() as functions belong to the experimental duration
# expressions; `@ start()` and `@ end()` are the standard @ modifier and stay in.
_DURATION_FUNCS = re.compile(r"(@\s*)?\b(step|range|start|end)\s*\(\s*\)")


def query_skip_reason(query: str) -> str | None:
    for pattern, why in _QUERY_RULES:
        if pattern.search(query):
            return why
    for m in _DURATION_FUNCS.finditer(query):
        if m.group(1) is None:
            return f"experimental duration-expression function {m.group(2)}()"
    return None
