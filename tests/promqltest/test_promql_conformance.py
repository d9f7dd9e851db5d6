"""Prometheus' own PromQL test suite, core float files, held to the ratchet.

Each core file must pass at least as many evals as `ratchet.json` records (raise it with
`python tests/promqltest/run.py --write-ratchet` when more pass), and the core files together
must pass 98% of their non-skipped evals, the issue's bar. A failure lists the failing evals
of the file, as `run.py --failures` does.
"""

from __future__ import annotations

import json

import pytest

from promqltest.harness import FileReport, run_file
from promqltest.run import RATCHET, TESTDATA
from promqltest.skips import CORE_FILES

pytestmark = pytest.mark.skipif(not TESTDATA.is_dir(), reason=f"conformance data not at {TESTDATA}")

_reports: dict[str, FileReport] = {}


def _report(name: str) -> FileReport:
    if name not in _reports:
        _reports[name] = run_file(TESTDATA / name)
    return _reports[name]


def _failures(r: FileReport, limit: int = 40) -> str:
    lines = [f"{r.file}:{o.line}: {o.query}\n    {o.detail}" for o in r.outcomes if o.status == "fail"]
    more = f"\n... and {len(lines) - limit} more" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


@pytest.mark.parametrize("name", CORE_FILES)
def test_core_file_holds_its_ratchet(name: str) -> None:
    ratchet = json.loads(RATCHET.read_text())
    r = _report(name)
    assert r.outcomes, f"{name}: no evals found"
    passed = r.count("pass")
    want = ratchet.get(name, 0)
    assert passed >= want, f"{name}: {passed} evals pass, the ratchet holds {want}\n{_failures(r)}"


def test_core_files_pass_98_percent() -> None:
    reports = [_report(n) for n in CORE_FILES]
    passed = sum(r.count("pass") for r in reports)
    run = passed + sum(r.count("fail") for r in reports)
    assert run > 0
    detail = "\n".join(_failures(r, 10) for r in reports if r.count("fail"))
    assert passed >= 0.98 * run, f"core files: {passed}/{run} evals pass, under 98%\n{detail}"
