"""Hand-written PromQL syntax cases beyond Prometheus' tables: the remaining error kinds (worded
as lex.go / parse.go word them), `parse_selector`, function signatures, the JSON tree of
`/api/v1/parse_query`, numbers, durations, Go regex flag groups and what Heron refuses."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from heron.model import MatchOp
from heron.promql.syntax import (
    Call,
    MatrixSelector,
    NumberLiteral,
    ParseError,
    SubqueryExpr,
    ValueType,
    VectorSelector,
    format_expr,
    parse_expr,
    parse_selector,
    to_json,
)
from heron.promql.syntax.functions import SIGNATURES
from heron.promql.syntax.quoting import format_duration_ms, parse_duration_ms

ERRORS = [
    ("foo @ 1 @ 2", "@ <timestamp> may not be set multiple times", 0),
    ("foo @ start() @ end()", "@ <timestamp> may not be set multiple times", 0),
    ('"a" + 1', "binary expression must contain only scalar and instant vector types", 0),
    ("1 + foo[5m]", "binary expression must contain only scalar and instant vector types", 4),
    ('sum by ("") (x)', 'invalid label name for grouping: ""', 8),
    ('"\\uD800"', "escape sequence is an invalid Unicode code point", 0),
    ('"\\400"', "escape sequence is an invalid Unicode code point", 0),
    ("foo[5m:1m 1m]", 'unexpected duration "1m" in subquery selector, expected "]"', 10),
    (
        "foo[5m:,]",
        'unexpected "," in subquery selector, expected number, duration, step(), range(), or "]"',
        7,
    ),
    ("foo[5m 1m]", 'unexpected duration "1m" in subquery or range, expected ":" or "]"', 7),
    ("foo[5m", "unclosed left bracket", 6),
    ('{a!b="c"}', "unexpected character after '!' inside braces: 'b'", 2),
    ("foo[5m::]", "unexpected colon ':'", 7),
    ("foo[:5m]", "unexpected colon before duration in duration expression", 5),
    ('{a="b"{', "unexpected left brace '{'", 6),
    ("foo[5m[", "unexpected left bracket '['", 6),
    ("foo]", "unexpected right bracket ']'", 3),
    ("foo @", "unexpected end of input in @, expected timestamp", 5),
    ("foo offset -", "unexpected end of input in offset, expected number, duration, step(), or range()", 12),
    ("sum by (a)", "unexpected end of input in aggregation", 10),
    ("sum(a) by (a b)", 'unexpected identifier "b" in grouping opts, expected "," or ")"', 13),
    ("topk(1, x, y)", "wrong number of arguments for aggregate expression provided, expected 2, got 3", 0),
    ("label_join(x)", 'expected at least 3 argument(s) in call to "label_join", got 1', 0),
    ("sum(x)[5m]", "ranges only allowed for vector selectors", 6),
    ("foo and on(a) group_left(b) bar", 'no grouping allowed for "and" operation', 0),
    ("x @ 1e30", "timestamp out of bounds for @ modifier: 1000000000000000019884624838656.000000", 0),
    ("foo[1m:0s]", "duration must be greater than 0", 7),
    ("foo[-1m:1m]", "duration must be greater than 0", 4),
    ("foo[5m%0]", "modulo by zero", 6),
    ("x[1m] @ 1 @ 2", "@ <timestamp> may not be set multiple times", 0),
    ("x[1m:] offset 1m offset 1m", "offset may not be set multiple times", 0),
    ("1e400", 'error parsing number: strconv.ParseFloat: parsing "1e400": value out of range', 0),
    ('{a=~"a(?=b)"}', "error parsing regexp: invalid or unsupported Perl syntax: `(?=`", 1),
    ('{a=~"("}', "error parsing regexp: missing closing ): `(`", 1),
    ("rate(x[5m],)", "trailing commas not allowed in function call args", 10),
    ("sum(x) (y)", 'unexpected "("', 7),
    # Which error comes first follows yacc's order of reads and reductions (found side by side
    # with a real Prometheus, test_promql_syntax_peer.py):
    ("sum(foo bar)", 'unexpected identifier "bar" in aggregation', 8),
    ("avg(t8, foo)) =52", "unexpected right parenthesis ')'", 13),
    ("a(bs(metric @ 11)", 'unknown function with name "bs"', 2),
    ("left_floats > right_flo(ats", "unclosed left parenthesis", 27),
    ("histogram_fraction(1.5, , x)", "trailing commas not allowed in function call args", 22),
    ("round(x,[ 5)", "trailing commas not allowed in function call args", 7),
    ("label_join(series,", "unclosed left parenthesis", 18),
    ("sum(x) by start", 'unexpected "start" in grouping opts, expected "("', 10),
]


@pytest.mark.parametrize(("query", "message", "start"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error_kinds(query: str, message: str, start: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(query)
    assert info.value.msg == message
    assert info.value.pos.start == start
    line_col = f"1:{start + 1}"
    assert str(info.value) == f"{line_col}: parse error: {message}"


@pytest.mark.parametrize(
    ("query", "feature"),
    [
        ("a + fill(0) b", "binop fill modifiers"),
        ("a[5m] anchored", "anchored modifier"),
        ("a[5m] smoothed", "smoothed modifier"),
        ("foo[step()]", "step()"),
        ("foo offset range()", "range()"),
    ],
)
def test_unsupported_experiments_are_clear_parse_errors(query: str, feature: str) -> None:
    with pytest.raises(ParseError, match="not supported by Heron") as info:
        parse_expr(query)
    assert feature in info.value.msg


def test_error_position_counts_lines() -> None:
    with pytest.raises(ParseError) as info:
        parse_expr("sum(\n  rate(x[5m])\n) by (a b)")
    assert str(info.value).startswith("3:9: parse error: ")


def test_parse_selector() -> None:
    vs = parse_selector('up{job="api", "a.b"=~"x|y"}')
    assert vs.name == "up" and vs.matchers[0].name == "__name__"
    assert [(m.name, m.op, m.value) for m in vs.matchers[1:]] == [
        ("job", MatchOp.EQ, "api"),
        ("a.b", MatchOp.RE, "x|y"),
    ]
    assert parse_selector('{"my.metric"}').matchers[0].value == "my.metric"
    for text, msg in [
        ("rate(x[5m])", 'unexpected "("'),
        ("{}", "vector selector must contain at least one non-empty matcher"),
        ("1", 'unexpected number "1"'),
        ("foo offset 5m", "unexpected <offset>"),
        ("", "no expression found in input"),
        ('foo{__name__="bar"}', 'metric name must not be set twice: "foo" or "bar"'),
    ]:
        with pytest.raises(ParseError) as info:
            parse_selector(text)
        assert info.value.msg == msg, text


def test_every_prometheus_function_has_a_signature() -> None:
    src = Path(__file__).with_name("parse_cases.json")
    assert src.exists()
    assert len(SIGNATURES) == 90
    for name in (
        "rate",
        "histogram_quantile",
        "label_replace",
        "info",
        "histogram_avg",
        "double_exponential_smoothing",
    ):
        assert name in SIGNATURES
    assert SIGNATURES["histogram_count"].native_histogram_only
    assert not SIGNATURES["histogram_quantile"].native_histogram_only
    assert SIGNATURES["label_join"].max_args is None and SIGNATURES["round"].max_args == 2
    assert SIGNATURES["mad_over_time"].experimental


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_each_function_parses_with_its_signature(name: str) -> None:
    sig = SIGNATURES[name]
    sample = {
        ValueType.VECTOR: "x",
        ValueType.MATRIX: "x[5m]",
        ValueType.SCALAR: "1",
        ValueType.STRING: '"a"',
    }
    args = [sample[sig.arg_type(i)] for i in range(sig.min_args)]
    if name == "label_replace":
        args = ["x", '"a"', '"b"', '"c"', '".*"']
    expr = parse_expr(f"{name}({', '.join(args)})")
    assert isinstance(expr, Call) and expr.return_type is sig.return_type and expr.type is sig.return_type


def test_numbers_follow_go() -> None:
    cases = {
        "0x1F": 31.0,
        "010": 8.0,
        "09": 9.0,
        "1_000": 1000.0,
        "1e3": 1000.0,
        ".5": 0.5,
        "5.": 5.0,
        "1h": 3600.0,
    }
    for text, value in cases.items():
        got = parse_expr(text)
        assert isinstance(got, NumberLiteral) and got.value == value, text
    for text in ("Inf", "+inf", "-Inf", "NaN", "nan"):
        got = parse_expr(text)
        assert isinstance(got, NumberLiteral) and (math.isinf(got.value) or math.isnan(got.value))
    assert (
        format_expr(parse_expr("-Inf")) == "-Inf"
        and format_expr(parse_expr("1e21")) == "1000000000000000000000"
    )


def test_durations() -> None:
    assert parse_duration_ms("1y2w3d4h5m6s7ms") == (
        ((365 + 14 + 3) * 24 + 4) * 3_600_000 + 5 * 60_000 + 6007,
        None,
    )
    assert parse_duration_ms("5m1m")[1] == 'not a valid duration string: "5m1m"'
    assert format_duration_ms(90 * 60_000) == "1h30m" and format_duration_ms(0) == "0s"
    e = parse_expr("x[1h30m] offset -90s")
    assert isinstance(e, MatrixSelector) and e.range_ms == 5_400_000 and e.vector.offset_ms == -90_000
    assert format_expr(e) == "x[1h30m] offset -1m30s"
    sq = parse_expr("x[5m * 2:30s + 30s] offset (1h - 30m) @ end()")
    assert isinstance(sq, SubqueryExpr)
    assert (sq.range_ms, sq.step_ms, sq.offset_ms, sq.at and sq.at.start_end) == (
        600_000,
        60_000,
        1_800_000,
        "end",
    )
    assert parse_expr("x[1.5]").range_ms == 1500  # type: ignore[union-attr]


def test_go_regex_flags_anywhere() -> None:
    vs = parse_expr('x{a=~"((?i)PRO).*", b!~"(?i)foo|bar"}')
    assert isinstance(vs, VectorSelector)
    a, b = vs.matchers[1], vs.matchers[2]
    assert a.matches("production") and not a.matches("xproduction")
    assert not b.matches("FOO") and not b.matches("BAR") and b.matches("baz")
    assert format_expr(vs) == 'x{a=~"((?i)PRO).*",b!~"(?i)foo|bar"}'
    assert re.fullmatch(r"\(\?s:.*\)", a._regex.pattern if a._regex else "")


def test_to_json_matches_translate_ast() -> None:
    got = to_json(
        parse_expr('sum by (a) (rate(foo{b="c"}[5m] @ 100 offset 1m)) > bool on (a) group_left (x) -bar')
    )
    assert got == {
        "type": "binaryExpr",
        "op": ">",
        "bool": True,
        "matching": {
            "card": "many-to-one",
            "labels": ["a"],
            "on": True,
            "include": ["x"],
            "fillValues": {"lhs": None, "rhs": None},
        },
        "lhs": {
            "type": "aggregation",
            "op": "sum",
            "param": None,
            "grouping": ["a"],
            "without": False,
            "expr": {
                "type": "call",
                "func": {"name": "rate", "argTypes": ["matrix"], "variadic": 0, "returnType": "vector"},
                "args": [
                    {
                        "type": "matrixSelector",
                        "name": "foo",
                        "range": 300000,
                        "rangeExpr": None,
                        "offset": 60000,
                        "offsetExpr": None,
                        "matchers": [
                            {"name": "b", "value": "c", "type": "="},
                            {"name": "__name__", "value": "foo", "type": "="},
                        ],
                        "timestamp": 100000,
                        "startOrEnd": None,
                        "anchored": False,
                        "smoothed": False,
                    }
                ],
            },
        },
        "rhs": {
            "type": "unaryExpr",
            "op": "-",
            "expr": {
                "type": "vectorSelector",
                "name": "bar",
                "offset": 0,
                "offsetExpr": None,
                "matchers": [{"name": "__name__", "value": "bar", "type": "="}],
                "timestamp": None,
                "startOrEnd": None,
                "anchored": False,
                "smoothed": False,
            },
        },
    }
    sub = to_json(parse_expr("(x < bool 2)[1h:1m] @ start()"))
    assert sub["type"] == "subquery" and sub["step"] == 60000 and sub["startOrEnd"] == "start"
    assert to_json(parse_expr("-Inf")) == {"type": "numberLiteral", "val": "-Inf"}
    assert to_json(parse_expr('"a\\n"')) == {"type": "stringLiteral", "val": "a\n"}
    json.dumps(to_json(parse_expr('count_values("v", x) or vector(1)')))  # plain JSON all the way down


@pytest.mark.parametrize(
    "query",
    [
        "(" * 5000 + "1" + ")" * 5000,
        "-" * 5000 + "1",
        "1" + "^1" * 5000,
        "a" + " + a" * 5000,
        "x[" + "(" * 300 + "1m" + ")" * 300 + "]",
        "(" + "-{}-1" * 10000 + ")",
    ],
    ids=["parens", "unary", "pow", "sum-chain", "duration-parens", "prometheus-deep-case"],
)
def test_hostile_nesting_is_a_parse_error(query: str) -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_expr(query)


def test_reasonable_nesting_parses() -> None:
    deep = parse_expr("sum(" * 60 + "x" + ")" * 60)
    assert format_expr(deep).count("sum(") == 60
    chain = parse_expr("a" + " or a" * 200)
    assert format_expr(chain).count(" or ") == 200


def test_string_escapes_build_bytes_like_go() -> None:
    """`\\xHH` and octal escapes are bytes: valid UTF-8 sequences join into characters, other
    bytes stay as surrogate escapes and print back as `\\xHH` (Go's strconv.Quote)."""
    cases = {
        '"\\xc3\\xa9"': ("é", '"é"'),
        '"\\xff"': ("\udcff", '"\\xff"'),
        '"a\\377b"': ("a\udcffb", '"a\\xffb"'),
        "'it\\'s'": ("it's", '"it\'s"'),
        "`raw\\n`": ("raw\\n", '"raw\\\\n"'),
        '"\\u263a\\U0001F600"': ("☺😀", '"☺😀"'),
    }
    for text, (value, printed) in cases.items():
        lit = parse_expr(text)
        assert getattr(lit, "value", None) == value, text
        assert format_expr(lit) == printed, text
