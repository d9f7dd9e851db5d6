"""Runs tests/gotemplate/cases.yaml: Go text/template cases against Heron's template engine.

The cases are data so that the same file can later drive another function table (Prometheus'
alert templates) on the same engine; only cases that need no LogQL function beyond fromJson,
print and the comparisons are here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from heron.logql.template import TemplateError, TemplateExecError, compile_template

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text())


def test_every_case_says_what_it_expects() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names are unique"
    for case in CASES:
        assert len({"want", "parse_error", "exec_error"} & case.keys()) == 1, case["name"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    labels = case.get("labels", {})
    if "parse_error" in case:
        with pytest.raises(TemplateError) as info:
            compile_template(case["template"])
        assert str(info.value).startswith("template: line:")
        assert case["parse_error"] in str(info.value)
        return
    tmpl = compile_template(case["template"])
    if "exec_error" in case:
        with pytest.raises(TemplateExecError) as info2:
            tmpl.render(labels, "", 0)
        assert str(info2.value).startswith("template: line:1:")
        assert case["exec_error"] in str(info2.value)
        return
    assert tmpl.render(labels, "", 0) == case["want"]
