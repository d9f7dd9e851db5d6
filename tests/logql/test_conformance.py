"""Conformance ratchet: agreement with Loki's own test cases may rise but never fall.

The runner (tests/logql/conformance/runner.py) replays Loki's transcribed table-driven
cases through the real engine; ratchet.json holds each data file's agreement count as last
recorded. A file whose count drops below it means a change broke behaviour Loki's tests pin.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

HERE = Path(__file__).resolve().parent / "conformance"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("heron_conformance_runner", HERE / "runner.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


runner = _runner()


def test_agreement_never_drops_below_ratchet() -> None:
    results = runner.run_all()
    print(runner.table(results))
    ratchet = json.loads((HERE / "ratchet.json").read_text())
    by_file = {r.file: r for r in results}
    assert set(ratchet) <= set(by_file), f"ratchet names missing data files: {set(ratchet) - set(by_file)}"
    dropped = {f: (by_file[f].agree, n) for f, n in ratchet.items() if by_file[f].agree < n}
    assert not dropped, f"agreement fell below the ratchet (got, ratchet): {dropped}\n{runner.table(results)}"


def test_every_case_has_a_name_and_pipeline_or_query() -> None:
    names: set[str] = set()
    for p in runner.data_files():
        doc = yaml.safe_load(p.read_text())
        assert doc["kind"] in ("log", "syntax"), p.name
        for c in doc["cases"]:
            key = (p.name, c["name"])
            assert key not in names, f"duplicate case {key}"
            names.add(key)
            assert (
                ("query" in c and c["expect"] in ("parses", "error"))
                if doc["kind"] == "syntax"
                else (
                    "pipeline" in c
                    and "line" in c
                    and ("labels" in c or c.get("filtered") or c.get("expect_error"))
                )
            ), key
        for s in doc.get("skipped") or []:
            assert s["name"] and s["reason"], (p.name, s)


def _log_doc(labels: dict[str, str]) -> dict:
    return {
        "kind": "log",
        "cases": [{"name": "t/one", "line": "a=1", "pipeline": "| logfmt", "labels": labels}],
    }


def test_runner_counts_agreement_disagreement_and_accepted() -> None:
    good, bad = runner.run_log_files([("good", _log_doc({"a": "1"})), ("bad", _log_doc({"a": "2"}))], {})
    assert (good.agree, len(good.disagreements)) == (1, 0)
    assert (bad.agree, len(bad.disagreements)) == (0, 1)
    assert bad.disagreements[0].got == {"line": "a=1", "labels": {"a": "1"}}
    (acc,) = runner.run_log_files([("acc", _log_doc({"a": "2"}))], {"t/one": "wording"})
    assert (acc.agree, acc.accepted, len(acc.disagreements)) == (0, 1, 0)


def test_runner_checks_filtered_out_and_syntax_outcomes() -> None:
    doc = {"kind": "log", "cases": [{"name": "f", "line": "x", "pipeline": '|= "y"', "filtered": True}]}
    (res,) = runner.run_log_files([("f", doc)], {})
    assert res.agree == 1
    syn = {
        "kind": "syntax",
        "cases": [
            {"name": "ok", "query": '{a="b"}', "expect": "parses"},
            {"name": "bad", "query": '{a="b"', "expect": "error"},
            {"name": "wrong", "query": '{a="b"}', "expect": "error"},
        ],
    }
    res = runner.run_syntax("s", syn, {})
    assert res.agree == 2 and [d.case for d in res.disagreements] == ["wrong"]


@pytest.mark.parametrize("flag", [[], ["-v"]])
def test_main_writes_the_disagreement_report(flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(flag) == 0
    out = capsys.readouterr().out
    assert "syntax_parser_test.yaml" in out
    assert runner.REPORT.read_text().startswith("file")


def test_runner_expect_error_agrees_only_with_a_refused_query() -> None:
    doc = {
        "kind": "log",
        "cases": [
            {"name": "refused", "line": "x", "pipeline": '|~ ip("1.2.3.4")', "expect_error": True},
            {"name": "accepted", "line": "x", "pipeline": '|= ip("1.2.3.4")', "expect_error": True},
        ],
    }
    (res,) = runner.run_log_files([("e", doc)], {})
    assert res.agree == 1 and [d.case for d in res.disagreements] == ["accepted"]
