"""The figures a benchmark prints: each measured value beside its target, then a Markdown table.

Shared by the scripts in bench/ so every RESULTS.md table has the same columns and verdicts.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass

__all__ = ["Figure", "Report", "machine_info"]


def _first_field(path: str, prefix: str) -> str | None:
    """The value after `prefix:` on the first line of `path` that starts with it."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine_info() -> dict[str, str]:
    """What a RESULTS.md entry needs to say about the machine a figure came from."""
    from heron import __version__

    mem_kb = _first_field("/proc/meminfo", "MemTotal")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": _first_field("/proc/cpuinfo", "model name") or "?",
        "ram": f"{int(mem_kb.split()[0]) / 2**20:.1f} GiB" if mem_kb else "?",
        "load_avg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "heron": __version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


@dataclass
class Figure:
    key: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    ok: bool | None = None  # None: reported, not judged
    note: str = ""

    def measured(self) -> str:
        v = self.value
        if v is None:
            return "-"
        if math.isinf(v):
            return f"inf {self.unit}".strip()
        if abs(v) >= 1000 or (abs(v) >= 10 and v == int(v)):
            text = f"{v:,.0f}"
        else:
            text = f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        return f"{text} {self.unit}".strip()

    def verdict(self) -> str:
        return "info" if self.ok is None else "PASS" if self.ok else "MISS"


class Report:
    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        target = f"  (target {fig.target}: {fig.verdict()})" if fig.target else ""
        note = f"  {fig.note}" if fig.note else ""
        print(f"  [{fig.key}] {fig.name}: {fig.measured()}{target}{note}", flush=True)
        return fig

    def table(self) -> str:
        rows = [("#", "figure", "measured", "target", "result")]
        rows += [(f.key, f.name, f.measured(), f.target or "-", f.verdict()) for f in self.figures]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        out = []
        for j, r in enumerate(rows):
            out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
            if j == 0:
                out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        notes = [f"- [{f.key}] {f.note}" for f in self.figures if f.note]
        return "\n".join(out + ([""] + notes if notes else []))
