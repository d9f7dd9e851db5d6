"""LogQL parsers against Loki's documented examples and the behaviour of Loki's source."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.logql import parsers as P
from heron.logql.parsers import (
    compile_pattern,
    compile_regexp_parser,
    merge_extracted,
    parse_json,
    parse_json_path,
    parse_logfmt,
    parse_unpack,
    sanitize_label_key,
)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ERR = "__error_details__"

# --- json -------------------------------------------------------------------------------------

LOKI_DOC_JSON = b"""{
    "protocol": "HTTP/2.0",
    "servers": ["129.0.1.1","10.2.1.3"],
    "request": {
        "time": "6.032",
        "method": "GET",
        "host": "foo.grafana.net",
        "size": "55",
        "headers": {
          "Accept": "*/*",
          "User-Agent": "curl/7.68.0"
        }
    },
    "response": {
        "status": 401,
        "size": "228",
        "latency_seconds": "6.031"
    }
}"""


def test_json_loki_doc_example() -> None:
    assert parse_json(LOKI_DOC_JSON) == (
        {
            "protocol": "HTTP/2.0",
            "request_time": "6.032",
            "request_method": "GET",
            "request_host": "foo.grafana.net",
            "request_size": "55",
            "request_headers_Accept": "*/*",
            "request_headers_User_Agent": "curl/7.68.0",
            "response_status": "401",
            "response_size": "228",
            "response_latency_seconds": "6.031",
        },
        None,
    )


def test_json_params_loki_doc_example() -> None:
    labels, err = parse_json(
        LOKI_DOC_JSON,
        [
            ("first_server", "servers[0]"),
            ("ua", 'request.headers["User-Agent"]'),
            ("server_list", "servers"),
            ("headers", "request.headers"),
        ],
    )
    assert err is None
    assert labels["first_server"] == "129.0.1.1"
    assert labels["ua"] == "curl/7.68.0"
    assert labels["server_list"] == '["129.0.1.1","10.2.1.3"]'  # raw JSON text
    assert json.loads(labels["headers"]) == {"Accept": "*/*", "User-Agent": "curl/7.68.0"}
    assert labels["headers"].startswith("{\n")  # the line's own text, whitespace and all


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (b'{"a":{"b":1}}', {"a_b": "1"}),
        (
            b'{"n":1.50,"e":1e3,"z":-0,"big":123456789012345678901234567890}',
            {"n": "1.50", "e": "1e3", "z": "-0", "big": "123456789012345678901234567890"},
        ),  # noqa: E501
        (b'{"t":true,"f":false,"nil":null,"arr":[1,{"x":2}],"o":{}}', {"t": "true", "f": "false"}),
        (b'{"2b":1,"a":{"2b":2},"1a":{"2b":3}}', {"_2b": "1", "a_2b": "2", "_1a_2b": "3"}),
        (b'{"a-b":1," c ":2,"d.e":{"f g":3},"\xc3\xa9":4}', {"a_b": "1", "c": "2", "d_e_f_g": "3", "_": "4"}),
        (b'{"":1,"x":{"":2},"":{"y":3}}', {"x_": "2", "y": "3"}),  # empty key: no name / no prefix
        (b'{"a":1,"a":2}', {"a": "1"}),  # Loki's parsers skip a key already extracted
        (b'{"a":{"b":1},"a":{"c":2}}', {"a_b": "1", "a_c": "2"}),  # duplicates both walked
        (b'{"a_b":1,"a":{"b":2}}', {"a_b": "1"}),  # first write wins
        (b'{"m":"q\\"u\\u00e9\\n"}', {"m": 'q"u\u00e9\n'}),
        (b'{"m":"\\ud83d\\ude00"}', {"m": "\U0001f600"}),
        (b'{"m":"\\ud800x","n":"ok"}', {"m": "", "n": "ok"}),  # lone surrogate: jsonparser fails -> ""
        (b'{"m":"\\x"}', {"m": ""}),  # invalid escape in a value: ""
        (b'{"m":"a\xffb\xc3"}', {"m": "a b "}),  # invalid UTF-8: a space per bad byte
        (b'{"m":"a\xef\xbf\xbdb"}', {"m": "a b"}),  # and U+FFFD too
        (b'{"m":"tab\there"}', {"m": "tab\there"}),  # raw control characters are accepted
        (b'  {"a":1} trailing garbage', {"a": "1"}),  # jsonparser stops at the closing brace
        (b'{"a":01,"b":-Infinity,"c":1.2.3}', {"a": "01", "b": "-Infinity", "c": "1.2.3"}),  # lenient numbers
        (b'{"a":[garbage, {],"b":"x"}', {"b": "x"}),  # arrays are skipped without being read
    ],
)
def test_json_flattening(line: bytes, want: dict[str, str]) -> None:
    assert parse_json(line) == (want, None)


@pytest.mark.parametrize(
    ("line", "labels", "details"),
    [
        (b"", {}, "Value looks like object, but can't find closing '}' symbol"),
        (b"not json", {}, "Value looks like object, but can't find closing '}' symbol"),
        (b"[1,2]", {}, "Value looks like object, but can't find closing '}' symbol"),
        (b'{"a":1,', {"a": "1"}, "Value is array, but can't find closing ']' symbol"),
        (b'{"a":1,}', {"a": "1"}, "Value looks like object, but can't find closing '}' symbol"),
        (b'{"a":1, "b":}', {"a": "1"}, "Unknown value type"),
        (b'{"a":1, "b":', {"a": "1"}, "Malformed JSON error"),
        (b'{"a":NaN,"b":1}', {}, "Unknown value type"),
        (b'{"a":"x","b":tru}', {"a": "x"}, "Unknown value type"),
        (b'{"a":{"b" 1},"c":2}', {}, "Malformed JSON error"),
        (b'{"a":"unterminated', {}, "Value is string, but can't find closing '\"' symbol"),
        (b'{"a":{"b":1}', {"a_b": "1"}, "Value is array, but can't find closing ']' symbol"),  # sic
        (b'{"k\\q":1}', {}, "Encountered an invalid escape sequence in a string"),
    ],
)
def test_json_errors_keep_labels_read_before(line: bytes, labels: dict[str, str], details: str) -> None:
    got, err = parse_json(line)
    assert err == "JSONParserErr"
    assert got == {**labels, ERR: details}


@pytest.mark.parametrize(
    ("line", "params", "want"),
    [
        (b'{"a":{"b":[10,{"c":"deep"}]}}', [("x", "a.b[1].c"), ("y", 'a["b"][0]')], {"x": "deep", "y": "10"}),
        (b'[{"a":"x"},{"a":"y"}]', [("v", "[1].a")], {"v": "y"}),
        (
            b'{"a.b":"dotted","a":{"b":"nested"}}',
            [("d", '["a.b"]'), ("n", "a.b")],
            {"d": "dotted", "n": "nested"},
        ),
        (
            b'{"a":null,"t":true,"n":1.50}',
            [("a", "a"), ("t", "t"), ("n", "n")],
            {"a": "", "t": "true", "n": "1.50"},
        ),
        (b'{"a":1}', [("missing", "b.c"), ("idx", "a[0]")], {"missing": "", "idx": ""}),
        (
            b'{"s":"q\\"\\u00e9","arr":["a\\"b"]}',
            [("s", "s"), ("arr", "arr")],
            {"s": 'q"\u00e9', "arr": '["a"b"]'},
        ),
        (b'{"a":{"x":1},"a":{"b":2}}', [("v", "a.b")], {"v": "2"}),  # a later duplicate can lead on
        (b'{"a":"x", "b":', [("a", "a")], {"a": "x"}),  # lenient: the document need not be complete
        (b'{"o": {"k" : [1, 2]} }', [("o", "o")], {"o": '{"k" : [1, 2]}'}),
        (b'"just a string"', [("a", "a")], {"a": ""}),
    ],
)
def test_json_params(line: bytes, params: list[tuple[str, str]], want: dict[str, str]) -> None:
    assert parse_json(line, params) == (want, None)


def test_json_params_errors_and_edge_cases() -> None:
    assert parse_json(b"", [("a", "a")]) == ({}, None)  # Loki skips empty lines entirely
    assert parse_json(b' {"a":1}', [("a", "a")]) == ({}, "JSONParserErr")  # must start with { [ "
    assert parse_json(b"nope", [("a", "a")]) == ({}, "JSONParserErr")
    labels, err = parse_json(b'{"a":"x","b":', [("a", "a"), ("b", "b")])
    assert err == "JSONParserErr" and labels == {"a": "x", "b": "", ERR: "Malformed JSON error"}
    # a missing value is not added when the stream already has that label name
    assert parse_json(b'{"x":1}', [("app", "nope")], base={"app": "api"}) == ({}, None)
    assert parse_json(b'{"x":1}', [("app", "x")], base={"app": "api"}) == ({"app": "1"}, None)
    with pytest.raises(ValueError, match="invalid extracted label name"):
        parse_json(b"{}", [("bad-name", "a")])
    with pytest.raises(ValueError, match="cannot parse expression"):
        parse_json(b"{}", [("a", "a-b")])


@pytest.mark.parametrize(
    ("expr", "path"),
    [
        ("a", ("a",)),
        ("a.b", ("a", "b")),
        ('a["b"]', ("a", "b")),
        ("a[0]", ("a", 0)),
        ("a.b[1].c", ("a", "b", 1, "c")),
        ('["a.b"]', ("a.b",)),
        ("[0]", (0,)),
        (" a . b [ 2 ] ", ("a", "b", 2)),
        ('a["x y"]["z"]', ("a", "x y", "z")),
    ],
)
def test_json_path_syntax(expr: str, path: tuple[str | int, ...]) -> None:
    assert parse_json_path(expr) == path


@pytest.mark.parametrize(
    "expr", ["", "a.", ".a", "a[1.5]", "a-b", "1a", "a[", 'a["b"', "a[b]", "a b", "a[0", "a..b"]
)
def test_json_path_errors(expr: str) -> None:
    with pytest.raises(ValueError, match=r"cannot parse expression \["):
        parse_json_path(expr)


json_scalars = st.one_of(
    st.text(max_size=6),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.lists(st.tuples(st.sampled_from(["a", "b", "a_b", "1", " x", "é", "", "c.d"]), kids), max_size=4),
    ),
    max_leaves=12,
)


def dump(v: Any, sep: tuple[str, str]) -> str:
    """json.dumps, but objects are pair lists so duplicate keys survive."""
    if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
        return "{" + sep[0].join(json.dumps(k) + sep[1] + dump(x, sep) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + sep[0].join(dump(x, sep) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


@FAST
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "a_b", "k", "1x", "é"]), json_values), max_size=5),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
)
def test_json_fast_path_agrees_with_jsonparser_port(
    pairs: list[tuple[str, Any]], sep: tuple[str, str]
) -> None:
    text = "{" + sep[0].join(json.dumps(k) + sep[1] + dump(v, sep) for k, v in pairs) + "}"
    line = text.encode()
    fast, err = parse_json(line)
    assert err is None
    port: dict[str, str] = {}
    P._flatten_port(line.decode(), "", port)
    assert fast == port
    for path in [("a",), ("a", "b"), ("a", 0), ("b", 1, "a"), ("k",), ("a_b", "a", "b")]:
        decoded = P._lookup_decoded(P._fast_decode(text, 0), path)
        raw = P._lookup_raw(text, path)
        if decoded is P._NOT_FOUND:
            assert raw is None
            assert P._raw_span(text, 0, path, 0) is None
        else:
            assert raw is not None
            if type(decoded) not in (tuple, list):
                assert P._render_decoded(decoded) == P._render_raw(raw)
            else:  # containers: the C-skipping walk finds the same raw text as jsonparser's
                span = P._raw_span(text, 0, path, 0)
                assert span is not None and text[span[0] : span[1]] == raw.text


# --- unpack -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (
            b'{"container":"myapp","pod":"pod-3223f","_entry":"original log message"}',
            ({"container": "myapp", "pod": "pod-3223f"}, b"original log message", None),
        ),
        (b'{"a":1,"b":{"c":"d"},"_entry":"x","e":"f","g-h":"i"}', ({"e": "f", "g_h": "i"}, b"x", None)),
        (b'{"_entry":"line\\nwith \\"q\\" \\u00e9"}', ({}, 'line\nwith "q" \u00e9'.encode(), None)),
        (b'{"_entry":"raw \xff byte","x":"\xff"}', ({"x": " "}, b"raw \xff byte", None)),
        (b'{"container":"myapp"}', ({}, None, None)),  # labels only come with a packed _entry
        (b"", ({}, None, None)),
        (b'{"a":"x","_entry":"y"} tail', ({"a": "x"}, b"y", None)),
    ],
)
def test_unpack(line: bytes, want: tuple[dict[str, str], bytes | None, str | None]) -> None:
    assert parse_unpack(line) == want


def test_unpack_errors() -> None:
    assert parse_unpack(b"[1]") == ({ERR: "expecting json object(6), but it is not"}, None, "JSONParserErr")
    assert parse_unpack(b' {"a":"b"}') == (
        {ERR: "expecting json object(6), but it is not"},
        None,
        "JSONParserErr",
    )
    assert parse_unpack(b'{"a":"b",') == (
        {ERR: "Value is array, but can't find closing ']' symbol"},
        None,
        "JSONParserErr",
    )
    assert parse_unpack(b'{"_entry":"\\ud800"}') == (
        {ERR: "Encountered an invalid escape sequence in a string"},
        None,
        "JSONParserErr",
    )


# --- logfmt -----------------------------------------------------------------------------------

LOKI_DOC_LOGFMT = b'at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200'


def test_logfmt_loki_doc_example() -> None:
    assert parse_logfmt(LOKI_DOC_LOGFMT) == (
        {
            "at": "info",
            "method": "GET",
            "path": "/",
            "host": "grafana.net",
            "fwd": "124.133.124.161",
            "service": "8ms",
            "status": "200",
        },
        None,
    )
    assert parse_logfmt(LOKI_DOC_LOGFMT, [("host", "host"), ("fwd_ip", "fwd")]) == (
        {"host": "grafana.net", "fwd_ip": "124.133.124.161"},
        None,
    )


@pytest.mark.parametrize(
    ("line", "keep_empty", "want"),
    [
        (b"a=1 b c= d=2", False, {"a": "1", "d": "2"}),
        (b"a=1 b c= d=2", True, {"a": "1", "b": "", "c": "", "d": "2"}),
        (b'a="" b=" "', True, {"a": "", "b": " "}),
        (b'msg="hello \\"world\\"\\n" x=1', False, {"msg": 'hello "world"\n', "x": "1"}),
        (b'u="\\u00e9\\ud83d\\ude00\\ud800\\/\\\'"', False, {"u": "\u00e9\U0001f600 /'"}),
        (b"a=1 a=2", False, {"a": "1"}),  # first wins, as Loki's "duplicate from line property"
        (b"foo.bar=1 1x=2 a-b=3 \xc3\xa9=4", False, {"foo_bar": "1", "_1x": "2", "a_b": "3", "_": "4"}),
        (b'a="x"b=1', False, {"a": "x", "b": "1"}),
        (b"  \t a=1 \n b=2  ", False, {"a": "1", "b": "2"}),
        (b"v=a\xffb w=\xef\xbf\xbd", False, {"v": "a b", "w": " "}),
        (b"", False, {}),
        (b"   ", False, {}),
        (b"=v a=1", False, {"a": "1"}),  # malformed parts skipped when not strict
        (b'k"ey=v a=1', False, {"a": "1"}),
        (b"a=b=c d=1", False, {"d": "1"}),
        (b'a=1 b="unterminated', False, {"a": "1"}),
        (b'a="b\\q" c=1', False, {"c": "1"}),
        (b"\xffk=v a=1", False, {"a": "1"}),
        (b"a=1 \xff b=2", False, {"a": "1", "b": "2"}),  # an invalid bare key is skipped
    ],
)
def test_logfmt(line: bytes, keep_empty: bool, want: dict[str, str]) -> None:
    assert parse_logfmt(line, keep_empty=keep_empty) == (want, None)


@pytest.mark.parametrize(
    ("line", "labels", "details"),
    [
        (b"=v a=1", {}, "logfmt syntax error at pos 1 : unexpected '='"),
        (b'a=1 k"ey=v', {"a": "1"}, "logfmt syntax error at pos 6 : unexpected '\"'"),
        (b"a=1 b=c=d", {"a": "1"}, "logfmt syntax error at pos 8 : unexpected '='"),
        (b'a=1 b="unterminated', {"a": "1"}, "logfmt syntax error at pos 20 : unterminated quoted value"),
        (b'a="b\\q" c=1', {}, "logfmt syntax error at pos 8 : invalid quoted value"),
        (b"\xffk=v", {}, "logfmt syntax error at pos 3 : invalid key"),
        (b"a=1 \xff", {"a": "1"}, "logfmt syntax error at pos 6 : invalid key"),
    ],
)
def test_logfmt_strict_errors(line: bytes, labels: dict[str, str], details: str) -> None:
    assert parse_logfmt(line, strict=True) == ({**labels, ERR: details}, "LogfmtParserErr")


def test_logfmt_params() -> None:
    line = b"a=1 b=2 c= empty"
    assert parse_logfmt(line, [("x", "b"), ("c", "c"), ("gone", "zzz")]) == (
        {"x": "2", "c": "", "gone": ""},
        None,
    )
    # Loki's rename quirk: key "a" is requested as itself and "b" is renamed to it; the last wins
    assert parse_logfmt(line, [("a", "b")]) == ({"a": "2"}, None)
    assert parse_logfmt(line, [("app", "zzz")], base={"app": "x"}) == ({}, None)
    assert parse_logfmt(line, [("q", '"b"')]) == ({"q": "2"}, None)
    assert parse_logfmt(b"v=\xff", [("v", "v")]) == ({"v": ""}, None)  # RuneError -> empty here
    with pytest.raises(ValueError, match="cannot parse expression"):
        parse_logfmt(line, [("a", "b-c")])
    with pytest.raises(ValueError, match="invalid extracted label name"):
        parse_logfmt(line, [("1a", "b")])


logfmt_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True)
logfmt_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)


@FAST
@given(st.dictionaries(logfmt_keys, logfmt_values, max_size=6))
def test_logfmt_round_trip(pairs: dict[str, str]) -> None:
    line = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in pairs.items()).encode()
    want = {P._sanitize(k, True): P._clean(v) for k, v in pairs.items()}
    got, err = parse_logfmt(line, strict=True)
    assert err is None and got == want


# --- regexp -----------------------------------------------------------------------------------


def test_regexp_loki_doc_example() -> None:
    rp = compile_regexp_parser(r"(?P<method>\w+) (?P<path>[\w|/]+) \((?P<status>\d+?)\) (?P<duration>.*)")
    assert rp.parse(b"POST /api/prom/api/v1/query_range (200) 1.5s") == {
        "method": "POST",
        "path": "/api/prom/api/v1/query_range",
        "status": "200",
        "duration": "1.5s",
    }
    assert rp.names == ["method", "path", "status", "duration"]


@pytest.mark.parametrize(
    ("pattern", "line", "want"),
    [
        ("(?<a>x+)(?P<b>y)?", b"_xx_", {"a": "xx", "b": ""}),  # a group that did not take part: ""
        ("(?P<a>x)", b"nothing", {}),
        ("(?P<c>.)", "é".encode(), {"c": "é"}),
        ("(?P<c>.)", b"\xff", {"c": "\ufffd"}),  # Go reads a bad byte as U+FFFD
        ("(a)(?P<n>b)", b"ab", {"n": "b"}),
        ("(?i)level=(?P<level>\\w+)", b"LEVEL=Warn", {"level": "Warn"}),
    ],
)
def test_regexp(pattern: str, line: bytes, want: dict[str, str]) -> None:
    assert compile_regexp_parser(pattern).parse(line) == want


@pytest.mark.parametrize(
    ("pattern", "msg"),
    [
        ("abc", "at least one named capture must be supplied"),
        ("(abc)", "at least one named capture must be supplied"),
        ("(?P<1a>x)", "invalid extracted label name '1a'"),
        ("(?P<a>x)|(?P<a>y)", "duplicate extracted label name 'a'"),
        ("(?P<a>x", "error parsing regexp: missing \\)"),
    ],
)
def test_regexp_errors(pattern: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        compile_regexp_parser(pattern)


# --- pattern ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "line", "want"),
    [
        (
            '<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>',
            b'0.191.12.2 - - [10/Jun/2021:09:14:29 +0000] "GET /api/plugins/versioncheck HTTP/1.1" 200 2 "-" '
            b'"Go-http-client/2.0" "13.76.247.102, 34.120.177.193" "TLSv1.2" "US" ""',
            {
                "ip": "0.191.12.2",
                "method": "GET",
                "uri": "/api/plugins/versioncheck",
                "status": "200",
                "size": "2",
                "agent": "Go-http-client/2.0",
            },
        ),
        (
            '<_> msg="<method> <path> (<status>) <latency>"',
            b"level=debug ts=2021-06-10T09:24:13.472094048Z caller=logging.go:66 traceID=0568b66ad2d9294c "
            b'msg="POST /loki/api/v1/push (204) 16.652862ms"',
            {"method": "POST", "path": "/loki/api/v1/push", "status": "204", "latency": "16.652862ms"},
        ),
        ("<a> - <b> end", b"x - y", {"a": "x", "b": "y"}),  # a missing literal: the capture takes the rest
        ("<a> - <b> - <c>", b"x - y", {"a": "x", "b": "y"}),  # ... and matching stops there
        ("[<a>]", b"x[y]", {}),  # a leading literal must start the line
        ("[<a>]", b"[y] tail", {"a": "y"}),  # a trailing literal need not end it
        ("<a>,", b"x,y,z", {"a": "x"}),
        ("<a>", b"", {}),
        ("<a>", b"whole line", {"a": "whole line"}),
        ("<a> <1b> <c>", b"x <1b> y", {"a": "x", "c": "y"}),  # <1b> is not a capture name: literal
        ("<_>:<a>", b"k:v:w", {"a": "v:w"}),
        ("<a>→<b>", "x→y".encode(), {"a": "x", "b": "y"}),  # non-ASCII literal as written
        ("<a> <b>", b"\xff \xfe", {"a": "\ufffd", "b": "\ufffd"}),
    ],
)
def test_pattern(pattern: str, line: bytes, want: dict[str, str]) -> None:
    assert compile_pattern(pattern).parse(line) == want


@pytest.mark.parametrize(
    ("pattern", "msg"),
    [
        ("", "empty pattern"),
        ("no captures", "at least one capture is required"),
        ("<_> only", "at least one capture is required"),
        ("<a><b>", "found consecutive capture"),
        ("x <a><_>", "found consecutive capture"),  # Loki misses this pair; we reject it
        ("<a> <a>", "duplicate capture name \\(a\\)"),
    ],
)
def test_pattern_errors(pattern: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        compile_pattern(pattern)


def test_pattern_names() -> None:
    assert compile_pattern("<a> <_> <b>").names == ["a", "b"]


# --- labels -----------------------------------------------------------------------------------


def test_merge_extracted() -> None:
    base = {"app": "api", "level": "info"}
    assert merge_extracted(base, {"app": "x", "msg": "m"}) == {
        "app": "api",
        "level": "info",
        "app_extracted": "x",
        "msg": "m",
    }
    # a label an earlier stage extracted keeps its value, and is not suffixed
    current = {**base, "msg": "old"}
    assert merge_extracted(base, {"msg": "new"}, current) == {**base, "msg": "old"}
    # an `_extracted` name that is a stream label itself is set over it, as Loki's Set does
    base2 = {"app": "api", "app_extracted": "s"}
    assert merge_extracted(base2, {"app": "x"}) == {"app": "api", "app_extracted": "x"}
    assert merge_extracted({"__error__": "x"}, {"__error_details__": "d", "__error__": "y"}) == {
        "__error__": "y",
        "__error_details__": "d",
    }


@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("a", "a"),
        ("a-b.c", "a_b_c"),
        ("1a", "_1a"),
        ("  a  ", "a"),
        ("", ""),
        ("   ", ""),
        ("é", "_"),
        ("_x", "_x"),
    ],
)
def test_sanitize_label_key(key: str, want: str) -> None:
    assert sanitize_label_key(key) == want


logfmt_fragments = st.sampled_from(
    [
        b"a",
        b"key",
        b"=",
        b'"',
        b"\\",
        b'\\"',
        b" ",
        b"\t",
        b"\n",
        b"v1",
        b"x y",
        b"\xff",
        b"\xc3\xa9",
        b"\\u00e9",
        b"\x00",
    ]
)


@FAST
@given(st.lists(logfmt_fragments, max_size=14).map(b"".join))
def test_logfmt_fast_path_agrees_with_scanner(line: bytes) -> None:
    """The one-regex-per-pair path may only answer for lines the exact scanner reads cleanly."""
    fast = P._logfmt_fast(line)
    pairs, errors, pos = [], [], 0
    while pos < len(line):
        ok, key, value, pos, err = P._logfmt_scan(line, pos)
        if err is not None:
            errors.append(err)
        if ok:
            pairs.append((key, value))
    if fast is not None:
        assert errors == [] and fast == pairs
    for strict in (False, True):
        for keep_empty in (False, True):
            parse_logfmt(line, strict=strict, keep_empty=keep_empty)  # never raises
    parse_json(line)
    parse_unpack(line)
