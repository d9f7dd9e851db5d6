"""Loading `exposition_cases.yaml` and turning parser output into comparable rows.

Shared by the table test and the real-Prometheus peer test, so both read the cases one way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from heron.collect.metrics.exposition import NO_TIMESTAMP, Exposition, series_labels

CASES_FILE = Path(__file__).with_name("exposition_cases.yaml")
CONTENT_TYPES = {
    "text": "text/plain; version=0.0.4; charset=utf-8",
    "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8",
}

Row = tuple[tuple[tuple[str, str], ...], float | str, int | None]


@dataclass(frozen=True)
class Case:
    name: str
    format: str
    body: bytes
    samples: list[Row] | None
    metadata: dict[str, tuple[str, str, str]]
    error: str | None
    line: int | None
    peer_checked: bool
    content_type_override: str | None = None

    @property
    def content_type(self) -> str:
        return self.content_type_override or CONTENT_TYPES[self.format]


def _value(v: Any) -> float | str:
    """Floats compare poorly with NaN, so rows hold NaN as the string "NaN"."""
    f = float(v)
    return "NaN" if math.isnan(f) else f


def load_cases() -> list[Case]:
    doc = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    out = []
    for c in doc["cases"]:
        body = c["body"].encode("latin-1" if c.get("raw") else "utf-8")
        samples = None
        if "samples" in c:
            samples = [
                (tuple(sorted((str(k), str(v)) for k, v in lab.items())), _value(val), ts)
                for lab, val, ts in c["samples"]
            ]
        meta = {k: (v[0], v[1], v[2]) for k, v in (c.get("metadata") or {}).items()}
        out.append(
            Case(
                name=c["name"],
                format=c["format"],
                body=body,
                samples=samples,
                metadata=meta,
                error=c.get("error"),
                line=c.get("line"),
                peer_checked=c.get("peer") == "checked",
                content_type_override=c.get("content_type"),
            )
        )
    return out


def rows(exp: Exposition) -> list[Row]:
    return [
        (series_labels(s), _value(v), None if t == NO_TIMESTAMP else int(t))
        for s, v, t in zip(exp.series, exp.values.tolist(), exp.timestamps.tolist(), strict=True)
    ]


def metadata_rows(exp: Exposition) -> dict[str, tuple[str, str, str]]:
    return {k: (m.type, m.help, m.unit) for k, m in exp.metadata.items()}
