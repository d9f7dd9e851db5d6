"""LogQL conformance runner: Loki's own table-driven test cases, run through Heron's engine.

The cases live in YAML data files beside this module, one per Loki test file, transcribed
from Loki's Go tests (never its code). Each log case is ingested into one real Database and
queried through the real Engine and the real renderer, so a disagreement here is a
disagreement a Loki client would see. Syntax cases only check "parses" against "error".

Run `python tests/logql/conformance/runner.py [-v] [--update-ratchet]`. Every run also
writes the full disagreement list to /tmp/heron-conformance.txt for the helpers fixing the
engine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from heron.api.render import render_query_result
from heron.logql.engine import Engine
from heron.logql.result import QueryError
from heron.logql.syntax import ParseError, parse_expr
from heron.model import labels_from
from heron.receive.loki_push import encode_metadata
from heron.storage import Database, LogBatch, StorageOptions

HERE = Path(__file__).resolve().parent
RATCHET = HERE / "ratchet.json"
ACCEPTED = HERE / "accepted_differences.yaml"
REPORT = Path("/tmp/heron-conformance.txt")
CASE_LABEL = "conformance_case"  # added to every stream so a case selects only its own line
S = 1_000_000_000


@dataclass
class Disagreement:
    case: str
    query: str
    expected: Any
    got: Any


@dataclass
class FileResult:
    file: str
    cases: int = 0
    agree: int = 0
    accepted: int = 0
    skipped: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)


def load_accepted() -> dict[str, str]:
    """Case names whose only difference is Go-internal error wording, with the reason."""
    if not ACCEPTED.exists():
        return {}
    data = yaml.safe_load(ACCEPTED.read_text()) or []
    return {d["case"]: d["reason"] for d in data}


def data_files() -> list[Path]:
    """The transcribed Loki test files: log_*.yaml (pipeline cases) and syntax_*.yaml."""
    return sorted([*HERE.glob("log_*.yaml"), *HERE.glob("syntax_*.yaml")], key=lambda p: p.name)


def _syntax_outcome(query: str) -> tuple[str, str]:
    """("parses", "") or ("error", message); anything other than ParseError is a crash."""
    try:
        parse_expr(query)
    except ParseError as e:
        return "error", str(e)
    except Exception as e:  # noqa: BLE001 - a crash is itself the disagreement we report
        return "crash", f"{type(e).__name__}: {e}"
    return "parses", ""


def run_syntax(name: str, doc: dict[str, Any], accepted: dict[str, str]) -> FileResult:
    res = FileResult(name, skipped=len(doc.get("skipped") or []))
    for c in doc["cases"]:
        res.cases += 1
        outcome, msg = _syntax_outcome(c["query"])
        if outcome == c["expect"]:
            res.agree += 1
        elif c["name"] in accepted:
            res.accepted += 1
        else:
            exp = c["expect"] + (f": {c['error']}" if c.get("error") else "")
            res.disagreements.append(
                Disagreement(c["name"], c["query"], exp, f"{outcome}: {msg}" if msg else outcome)
            )
    return res


def _expected(c: dict[str, Any]) -> Any:
    if c.get("expect_error"):
        return "error"
    if c.get("filtered"):
        return "filtered out"
    labels = dict(c.get("labels") or {})
    return {
        "line": c["expect_line"] if "expect_line" in c else c["line"],
        "labels": dict(sorted(labels.items())),
    }


def run_log_files(docs: list[tuple[str, dict[str, Any]]], accepted: dict[str, str]) -> list[FileResult]:
    """All log cases of all files share one Database: one stream per case, one entry each."""
    with tempfile.TemporaryDirectory(prefix="heron-conformance-") as tmp:
        # Go tests pin timestamps years back (2022): retention must not refuse them.
        opts = StorageOptions(retention_seconds=100 * 365 * 86400.0)
        db = Database.open(str(Path(tmp) / "data"), opts, background=False)
        try:
            t0 = (time.time_ns() // S - 3600) * S
            batches = []
            plan: list[tuple[FileResult, dict[str, Any], str, int]] = []
            results = []
            n = 0
            for name, doc in docs:
                fr = FileResult(name, skipped=len(doc.get("skipped") or []))
                results.append(fr)
                for c in doc["cases"]:
                    n += 1
                    cid = str(n)
                    stream = {**(c.get("stream") or {}), CASE_LABEL: cid}
                    ts = int(c.get("ts") or t0 + n * S)  # a case's own timestamp when the Go test gives one
                    md = c.get("metadata") or {}
                    batches.append(
                        LogBatch(labels_from(stream), [ts], [c["line"].encode()], [encode_metadata(md)])
                    )
                    plan.append((fr, c, cid, ts))
            db.append(logs=batches)
            engine = Engine(db, max_series=50, max_entries=100)
            for fr, c, cid, ts in plan:
                fr.cases += 1
                query = f'{{{CASE_LABEL}="{cid}"}} {c["pipeline"]}'
                got = _run_one(engine, query, ts)
                exp = _expected(c)
                if exp == "error" and isinstance(got, str) and got.startswith("error:"):
                    got = "error"  # a refused query agrees whatever Heron's message says
                if got == exp:
                    fr.agree += 1
                elif c["name"] in accepted:
                    fr.accepted += 1
                else:
                    fr.disagreements.append(Disagreement(c["name"], c["pipeline"], exp, got))
            return results
        finally:
            db.close()


def _run_one(engine: Engine, query: str, ts: int) -> Any:
    try:
        res = engine.query_range(query, ts, ts + 1, S, limit=100)
    except (QueryError, ParseError) as e:
        return f"error: {e}"
    except Exception as e:  # noqa: BLE001 - a crash is itself the disagreement we report
        return f"crash: {type(e).__name__}: {e}"
    streams = render_query_result(res)["data"]["result"]
    rows = [(s["stream"], v[1]) for s in streams for v in s["values"]]
    if not rows:
        return "filtered out"
    if len(rows) > 1:
        return f"{len(rows)} lines"
    labels, line = rows[0]
    labels = {k: v for k, v in labels.items() if k != CASE_LABEL}
    return {"line": line, "labels": dict(sorted(labels.items()))}


def run_all() -> list[FileResult]:
    accepted = load_accepted()
    syntax, logs = [], []
    for p in data_files():
        doc = yaml.safe_load(p.read_text())
        (syntax if doc.get("kind") == "syntax" else logs).append((p.name, doc))
    out = [run_syntax(n, d, accepted) for n, d in syntax] + run_log_files(logs, accepted)
    return sorted(out, key=lambda r: r.file)


def table(results: list[FileResult]) -> str:
    head = f"{'file':<32} {'cases':>6} {'agree':>6} {'accepted':>8} {'disagree':>8} {'skipped':>7}"
    rows = [head, "-" * len(head)]
    for r in results:
        rows.append(
            f"{r.file:<32} {r.cases:>6} {r.agree:>6} {r.accepted:>8} {len(r.disagreements):>8} {r.skipped:>7}"
        )
    return "\n".join(rows)


def disagreement_text(results: list[FileResult]) -> str:
    out = []
    for r in results:
        for d in r.disagreements:
            out.append(
                f"[{r.file}] {d.case}\n  query:    {d.query}\n"
                f"  expected: {json.dumps(d.expected, ensure_ascii=False)}\n"
                f"  got:      {json.dumps(d.got, ensure_ascii=False)}"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="print each disagreement")
    ap.add_argument("--update-ratchet", action="store_true", help="write agreement counts to ratchet.json")
    args = ap.parse_args(argv)
    results = run_all()
    print(table(results))
    text = disagreement_text(results)
    REPORT.write_text(table(results) + "\n\n" + text + "\n")
    if args.verbose and text:
        print()
        print(text)
    if args.update_ratchet:
        RATCHET.write_text(json.dumps({r.file: r.agree for r in results}, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
