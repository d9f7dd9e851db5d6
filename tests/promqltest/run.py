"""Run Prometheus' PromQL test files against Heron's engine and print what passed.

    python tests/promqltest/run.py [FILE...] [--failures] [--grep TEXT] [--markdown]
                                    [--write-ratchet]

FILE is a path or a bare name (`functions` or `functions.test`) in the shared conformance
folder; without FILE every file there runs. The table counts each eval statement once (its @
and range re-runs must all pass for it to pass). `--failures` prints each failing eval
(file:line, query, what differed or the exception); `--markdown` prints the table and the
skipped cases for docs/promql-conformance.md; `--write-ratchet` runs the core files and records
their pass counts in ratchet.json, which tests/promqltest/test_promql_conformance.py holds to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: make `import promqltest` work
    sys.path.insert(0, str(HERE.parent))

from promqltest.harness import FileReport, run_file  # noqa: E402
from promqltest.skips import CORE_FILES  # noqa: E402

__all__ = ["TESTDATA", "RATCHET", "resolve", "run_files", "table", "markdown", "main"]


def _testdata() -> Path:
    """Where Prometheus' test files are: `$PROMQLTEST_DATA_DIR` (the conformance folder), else
    `../shared/conformance` beside the repository (the project's layout; the files are never
    copied into the repo), else the workspace's `/work/shared/conformance` (a clone made
    elsewhere, as CI's may be)."""
    env = os.environ.get("PROMQLTEST_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "conformance")
    candidates.append(Path("/work/shared/conformance"))
    for base in candidates:
        if (base / "promqltest").is_dir():
            return base / "promqltest"
    return candidates[0] / "promqltest"


TESTDATA = _testdata()
RATCHET = HERE / "ratchet.json"


def resolve(arg: str) -> Path:
    p = Path(arg)
    if p.exists():
        return p
    name = arg if arg.endswith(".test") else f"{arg}.test"
    q = TESTDATA / name
    if not q.exists():
        raise SystemExit(f"no such test file: {arg} (looked in {TESTDATA})")
    return q


def run_files(paths: list[Path], grep: str | None = None) -> list[FileReport]:
    return [run_file(p, grep=grep) for p in paths]


def _totals(reports: list[FileReport]) -> tuple[int, int, int]:
    return (
        sum(r.count("pass") for r in reports),
        sum(r.count("fail") for r in reports),
        sum(r.count("skip") for r in reports),
    )


def _pct(passed: int, failed: int) -> str:
    run = passed + failed
    return f"{100.0 * passed / run:.1f}%" if run else "-"


def table(reports: list[FileReport]) -> str:
    rows = [f"{'file':<28} {'passed':>7} {'failed':>7} {'skipped':>8} {'pass %':>7}"]
    for r in reports:
        p, f, s = r.count("pass"), r.count("fail"), r.count("skip")
        note = "  (file skipped: " + r.skipped_file + ")" if r.skipped_file else ""
        rows.append(f"{r.file:<28} {p:>7} {f:>7} {s:>8} {_pct(p, f):>7}{note}")
    p, f, s = _totals(reports)
    rows.append(f"{'total':<28} {p:>7} {f:>7} {s:>8} {_pct(p, f):>7}")
    core = [r for r in reports if r.file in CORE_FILES]
    if core and len(core) != len(reports):
        p, f, s = _totals(core)
        rows.append(f"{'core total':<28} {p:>7} {f:>7} {s:>8} {_pct(p, f):>7}")
    return "\n".join(rows)


def markdown(reports: list[FileReport]) -> str:
    out = ["| file | core | passed | failed | skipped | pass % |", "|---|---|---:|---:|---:|---:|"]
    for r in reports:
        p, f, s = r.count("pass"), r.count("fail"), r.count("skip")
        core = "yes" if r.file in CORE_FILES else ""
        out.append(f"| {r.file} | {core} | {p} | {f} | {s} | {_pct(p, f)} |")
    for label, rs in (("core total", [r for r in reports if r.file in CORE_FILES]), ("total", reports)):
        p, f, s = _totals(rs)
        out.append(f"| **{label}** | | {p} | {f} | {s} | {_pct(p, f)} |")
    out += ["", "### Skipped files", ""]
    out += [f"- `{r.file}` ({r.count('skip')} evals): {r.skipped_file}" for r in reports if r.skipped_file]
    out += ["", "### Skipped cases", ""]
    for r in reports:
        if r.skipped_file:
            continue
        for o in r.outcomes:
            if o.status == "skip":
                q = o.query.replace("|", "\\|")
                out.append(f"- `{r.file}:{o.line}` `{q}`: {o.detail}")
    return "\n".join(out)


def failures(reports: list[FileReport]) -> str:
    out = []
    for r in reports:
        for o in r.outcomes:
            if o.status == "fail":
                out.append(f"{r.file}:{o.line}: {o.query}\n    {o.detail}")
    return "\n".join(out)


def write_ratchet(reports: list[FileReport]) -> dict[str, int]:
    counts = {r.file: r.count("pass") for r in reports if r.file in CORE_FILES}
    RATCHET.write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run Prometheus' PromQL conformance files against heron.")
    ap.add_argument("files", nargs="*", help="test files (paths or names); default: all")
    ap.add_argument("--failures", action="store_true", help="print each failing eval")
    ap.add_argument("--grep", help="only evals whose line contains TEXT")
    ap.add_argument("--markdown", action="store_true", help="print the markdown table and skipped cases")
    ap.add_argument("--write-ratchet", action="store_true", help="run the core files and record ratchet.json")
    ap.add_argument("--core", action="store_true", help="run only the core files")
    args = ap.parse_args(argv)
    if args.write_ratchet or args.core:
        paths = [TESTDATA / f for f in CORE_FILES]
    elif args.files:
        paths = [resolve(a) for a in args.files]
    else:
        paths = sorted(TESTDATA.glob("*.test"))
    started = time.monotonic()
    reports = run_files(paths, grep=args.grep)
    if args.failures:
        text = failures(reports)
        if text:
            print(text)
            print()
    if args.markdown:
        print(markdown(reports))
    else:
        print(table(reports))
        print(f"({time.monotonic() - started:.1f} s)")
    if args.write_ratchet:
        counts = write_ratchet(reports)
        print(f"wrote {RATCHET} ({sum(counts.values())} passing core evals)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
