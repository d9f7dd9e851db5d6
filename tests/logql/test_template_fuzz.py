"""Random templates from Loki's function table never escape as anything but the defined errors.

A line_format or label_format template reaches Heron from the query string, and label values come
from the stored data, so no combination may raise an IndexError or the like: that would be a 500
for the whole query, where Loki either refuses the template (400) or marks the one entry with
TemplateFormatErr and goes on.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from heron.logql.pipeline import Pipeline
from heron.logql.syntax import parse_expr
from heron.logql.template import BUILTINS, FUNCTIONS, TemplateError, TemplateExecError, compile_template
from heron.storage import LogColumns

_NAMES = sorted({**BUILTINS, **FUNCTIONS}) + ["and", "or", "__line__", "__timestamp__"]
_TEXT = st.text(alphabet=st.sampled_from('ab0 -+.:%=/"\\\n\t5eZg9é{}()|$'), max_size=8)
_ARG = st.one_of(
    st.sampled_from([".a", ".b", ".missing", ".", "$", "nil", "true", "0", "-1", "3", "1.5", "1e3", "'x'"]),
    _TEXT.map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'),
)
_CMD = st.tuples(st.sampled_from(_NAMES), st.lists(_ARG, max_size=3)).map(lambda c: " ".join([c[0], *c[1]]))
_PIPE = st.lists(st.one_of(_CMD, _ARG), min_size=1, max_size=3).map(" | ".join)
_TEMPLATE = st.lists(st.one_of(_PIPE.map(lambda p: "{{ " + p + " }}"), _TEXT), max_size=4).map("".join)
_LABELS = st.dictionaries(st.sampled_from(["a", "b", "c"]), _TEXT, max_size=3)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEMPLATE, labels=_LABELS, line=_TEXT)
@example(text="{{ .x | duration }}", labels={}, line="")
@example(text="{{ .x | duration_seconds }}", labels={}, line="")
@example(text='{{ printf "%05s" .x }}', labels={}, line="")
@example(text='{{ .a Replace "foo" }}', labels={"a": "v"}, line="")
def test_random_templates_raise_only_template_errors(text: str, labels: dict[str, str], line: str) -> None:
    try:
        tmpl = compile_template(text, "line", 4096)
    except TemplateError as exc:
        assert str(exc).startswith("template: line:")
        return
    try:
        out = tmpl.render(labels, line, 1_700_000_000_000_000_000)
    except TemplateExecError as exc:
        assert str(exc).startswith("template: line:")
        return
    assert isinstance(out, str)
    assert len(out.encode("utf-8", "surrogatepass")) <= 4096


@pytest.mark.parametrize(
    ("stage", "detail"),
    [
        ("line_format `{{ .x | duration }}`", 'error calling duration: time: invalid duration ""'),
        ("line_format `{{ .x | duration_seconds }}`", 'time: invalid duration ""'),
        ('line_format `{{.job Replace "foo"}}`', "job is not a method but has arguments"),
        ('label_format y=`{{.job Replace "foo"}}`', "job is not a method but has arguments"),
    ],
)
def test_exec_failures_mark_the_entry_and_keep_it(stage: str, detail: str) -> None:
    """Loki's fmt.go: a failed Execute sets TemplateFormatErr and keeps the line (and labels) as
    they were, for every entry; the query itself goes on."""
    lines = [b"first", b"second"]
    cols = LogColumns.from_lists([1, 2], lines)
    out = Pipeline(parse_expr('{job="a"} | ' + stage).stages).process({"job": "a"}, cols)  # type: ignore[attr-defined]
    assert list(out.index) == [0, 1]
    assert out.lines in (None, ["first", "second"])
    assert out.labels is not None
    for lbs in out.labels:
        assert lbs["__error__"] == "TemplateFormatErr"
        assert detail in lbs["__error_details__"]
        assert "y" not in lbs and lbs["job"] == "a"
