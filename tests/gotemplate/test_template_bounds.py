"""Templates that would hang a query or crash the parser are refused cleanly: nested ranges
stop after a fixed number of iterations per render, and nesting past Python's stack is a
TemplateError, never a RecursionError (a 500)."""

from __future__ import annotations

import pytest

from heron.gotemplate.exec import MAX_RANGE_STEPS
from heron.logql.template import TemplateError, TemplateExecError, compile_template


def _ranges(depth: int, width: int) -> str:
    items = "[" + ",".join(["1"] * width) + "]"
    return ('{{range fromJson "' + items.replace('"', '\\"') + '"}}') * depth + "{{end}}" * depth


def test_nested_ranges_stop_at_the_iteration_cap() -> None:
    tmpl = compile_template(_ranges(4, 60), "line", 1 << 20)  # 13M iterations uncapped
    with pytest.raises(TemplateExecError, match=f"more than {MAX_RANGE_STEPS} range iterations"):
        tmpl.render({}, "x", 0)


def test_ranges_under_the_cap_run() -> None:
    tmpl = compile_template(_ranges(2, 50) + "x", "line", 1 << 20)  # 2,550 iterations
    assert tmpl.render({}, "x", 0) == "x"


def test_the_cap_counts_per_render() -> None:
    tmpl = compile_template(_ranges(2, 90), "line", 1 << 20)  # 8,190 iterations each time
    for _ in range(3):
        assert tmpl.render({}, "x", 0) == ""


@pytest.mark.parametrize(
    "text",
    ["{{if 1}}" * 3000 + "x" + "{{end}}" * 3000, "{{" + "(" * 3000 + "1" + ")" * 3000 + "}}"],
)
def test_deep_nesting_is_a_template_error(text: str) -> None:
    with pytest.raises(TemplateError, match="nesting too deep"):
        compile_template(text, "line", 1 << 20)
