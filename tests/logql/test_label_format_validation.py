"""label_format stages Loki's parser refuses, with its messages (from Loki's syntax tests)."""

from __future__ import annotations

import pytest

from heron.logql.syntax import ParseError, parse_expr

CASES = [
    (
        '{app="a"} | label_format x="a", x="b"',
        'parse error : stage \'| label_format x="a",x="b"\' : '
        "multiple label name 'x' not allowed in a single format operation",
    ),
    (
        '{app="a"} | label_format foo=bar,foo="new"',
        "parse error : stage '| label_format foo=bar,foo=\"new\"' : "
        "multiple label name 'foo' not allowed in a single format operation",
    ),
    (
        '{app="a"} | label_format __error__="a"',
        "parse error : stage '| label_format __error__=\"a\"' : __error__ cannot be formatted",
    ),
    (
        'sum(count_over_time({app="a"} | label_format x=y, x="b" [1m]))',
        "parse error : stage '| label_format x=y,x=\"b\"' : "
        "multiple label name 'x' not allowed in a single format operation",
    ),
]


@pytest.mark.parametrize(("query", "message"), CASES)
def test_refused_label_formats(query: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(query)
    assert str(info.value) == message


def test_distinct_targets_and_error_details_are_allowed() -> None:
    parse_expr('{app="a"} | label_format x="a", y=x | label_format x="b"')
    parse_expr('{app="a"} | label_format __error_details__="a"')
