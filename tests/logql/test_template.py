"""line_format / label_format templates: Go text/template semantics with Loki's functions."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from heron.logql.template import (
    GoTime,
    TemplateError,
    TemplateExecError,
    compile_template,
    format_time,
    go_format_float,
    go_sprintf,
    parse_time,
)

TS = 1_700_000_000_123_456_789  # 2023-11-14 22:13:20.123456789 UTC
LABELS = {
    "app": "api",
    "query": 'sum(rate({job="x"}[5m]))',
    "duration": "1.5s",
    "level": "error",
    "status": "200",
    "n": "3",
    "x": "3.14159",
    "name": "$5.00$",
    "msg": "Hello World",
    "json": '{"foo": 55, "bar": {"baz": "q"}, "arr": [1, "two"]}',
    "url": "a b&c=d/é",
    "enc": "a+b%26%C3%A9",
    "secret": "aGVsbG8=",
    "size": "42 MB",
    "epoch": "1673798889",
    "epoch_ms": "1673798889902",
    "empty": "",
    "method": "get",
}


def render(text: str, labels: dict[str, str] | None = None, line: str = "the line", ts: int = TS) -> str:
    return compile_template(text).render(LABELS if labels is None else labels, line, ts)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # basics
        ("plain text", "plain text"),
        ("{{.app}}", "api"),
        ("{{ .app }}", "api"),
        ("{{.query}} {{.duration}}", 'sum(rate({job="x"}[5m])) 1.5s'),
        ("[{{.missing}}]", "[]"),  # missingkey=zero on map[string]string
        ("{{ . }}", ""),  # replaced below: the whole map prints sorted (see test_dot_prints_map)
        ("{{ $.app }}-{{ $ | len }}", f"api-{len(LABELS)}"),
        ("{{/* a comment */}}ok", "ok"),
        ("a  {{- .app -}}  b", "aapib"),
        ("a  {{- /* c */ -}}  b", "ab"),
        ("{{ .app }}\n{{ .level }}", "api\nerror"),
        ("{{ __line__ }}", "the line"),
        ("{{ __line__ | upper }}", "THE LINE"),
        ("{{ __timestamp__ }}", "2023-11-14 22:13:20.123456789 +0000 UTC"),
        ("{{ __timestamp__ | unixEpoch }}", "1700000000"),
        ("{{ __timestamp__ | unixEpochMillis }}", "1700000000123"),
        ("{{ __timestamp__ | unixEpochNanos }}", "1700000000123456789"),
        ('{{ __timestamp__ | date "2006-01-02T15:04:05.00Z-07:00" }}', "2023-11-14T22:13:20.12Z+00:00"),
        (
            '{{ __timestamp__ | date "Mon Jan _2 3:04:05.000 PM MST 2006" }}',
            "Tue Nov 14 10:13:20.123 PM UTC 2023",
        ),
        # control flow
        ('{{ if eq .level "error" }}E{{ else }}O{{ end }}', "E"),
        ('{{ if eq .level "info" }}I{{ else if eq .level "error" }}E{{ else }}O{{ end }}', "E"),
        ("{{ if .missing }}yes{{ else }}no{{ end }}", "no"),
        ("{{ if .empty }}yes{{ end }}", ""),
        ("{{ if and .app .level }}both{{ end }}", "both"),
        ("{{ if or .missing .app }}one{{ end }}", "one"),
        ("{{ if not .missing }}none{{ end }}", "none"),
        ("{{ with .app }}[{{ . }}]{{ else }}-{{ end }}", "[api]"),
        ("{{ with .missing }}[{{ . }}]{{ else }}-{{ end }}", "-"),
        ("{{ with .app }}{{ $.level }}{{ end }}", "error"),
        ('{{ if eq .status "200" "201" }}ok{{ end }}', "ok"),
        # pipelines and literals
        ("{{ .app | ToUpper }}", "API"),
        ("{{ .app | upper | lower }}", "api"),
        ('{{ printf "%s-%d" .app 3 }}', "api-3"),
        ('{{ .x | float64 | printf "%.2f" }}', "3.14"),
        ("{{ (.n | int) }}", "3"),
        ("{{ 1e6 }} {{ 123456.0 }} {{ 0.000012 }} {{ -0.5 }} {{ 1.0 }}", "1e+06 123456 1.2e-05 -0.5 1"),
        (
            "{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }} {{ 'a' }} {{ -7 }}",
            "31 15 15 5 1000 97 -7",
        ),
        ('{{ "a\\tb\\u00e9" }}{{ `raw\\n` }}', "a\tb\u00e9raw\\n"),
        ("{{ true }} {{ false }}", "true false"),
        # Loki's functions
        ('{{ Replace "This is a string" " " "-" -1 }}', "This-is-a-string"),
        ('{{ Replace .msg "l" "L" 2 }}', "HeLLo World"),
        (
            '{{ Trim "   Hello, world   " " " }}|{{ TrimLeft "xxhixx" "x" }}|{{ TrimRight "xxhixx" "x" }}',
            "Hello, world|hixx|xxhi",
        ),
        (
            '{{ TrimPrefix .msg "Hello " }}|{{ TrimSuffix .msg " World" }}|{{ TrimSpace "  a  " }}',
            "World|Hello|a",
        ),
        ('{{ regexReplaceAll "(a*)bc" "aaabc" "${1}a" }}', "aaaa"),
        ('{{ regexReplaceAll "a*" "baaac" "-" }}', "-b-c-"),  # Go skips an empty match after a match
        ('{{ regexReplaceAll "(?P<w>o)" .msg "[$w]" }}', "Hell[o] W[o]rld"),
        ('{{ regexReplaceAll "o" .msg "$$" }}', "Hell$ W$rld"),
        ('{{ regexReplaceAllLiteral "(o)" .msg "${1}" }}', "Hell${1} W${1}rld"),
        ('{{ count "a|b" "abcda" }} {{ count "x*" "ab" }}', "3 3"),
        ("{{ urlencode .url }}", "a+b%26c%3Dd%2F%C3%A9"),
        ("{{ urldecode .enc }}", "a b&é"),
        ('{{ .size | bytes }} {{ bytes "1.5 KiB" }}', "4.2e+07 1536"),
        (
            '{{ duration "1h2m3.5s" }} {{ duration_seconds "250ms" }} {{ duration "-1.5h" }}',
            "3723.5 0.25 -5400",
        ),
        (
            '{{ alignLeft 5 "hello world" }}|{{ alignRight 5 "hello world" }}|{{ alignLeft 7 "ab" }}|',
            "hello|world|ab     |",
        ),
        ("{{ unixToTime .epoch }}", "2023-01-15 16:08:09 +0000 UTC"),
        ("{{ unixToTime .epoch_ms | unixEpochMillis }}", "1673798889902"),
        ('{{ unixToTime "19373" | date "2006-01-02" }}', "2023-01-16"),
        ('{{ toDateInZone "2006-01-02 15:04" "Europe/Paris" "2024-07-01 12:00" | unixEpoch }}', "1719828000"),
        ('{{ toDateInZone "2006-01-02 15:04" "Nowhere/Bad" "2024-07-01 12:00" | unixEpoch }}', "1719835200"),
        # Sprig's functions
        ('{{ b64enc "hello" }} {{ .secret | b64dec }}', "aGVsbG8= hello"),
        ('{{ "HeLLo" | lower }} {{ "HeLLo" | upper }}', "hello HELLO"),
        ('{{ .method | title }} {{ "hello wide-world_x" | title }}', "Get Hello Wide-World_x"),
        ('{{ "hello world" | trunc 5 }}|{{ trunc -5 "hello world" }}|{{ trunc 50 "ab" }}', "hello|world|ab"),
        (
            '{{ substr 0 5 "hello world" }}|{{ substr 6 11 "hello world" }}|{{ substr 3 -1 "hello" }}',
            "hello|world|lo",
        ),
        ('{{ substr 4 2 "hello" }}|{{ substr -1 2 "héllo" }}|{{ substr 1 99 "héllo" }}', "|hé|éllo"),
        (
            '{{ contains "World" .msg }} {{ hasPrefix "Hell" .msg }} {{ hasSuffix "x" .msg }}',
            "true true false",
        ),
        ('{{ indent 2 "a\\nb" }}|{{ nindent 2 "a" }}', "  a\n  b|\n  a"),
        ('{{ replace " " "-" "I Am Henry VIII" }}', "I-Am-Henry-VIII"),
        ('{{ repeat 3 "hello" }}', "hellohellohello"),
        (
            '{{ trim "  x  " }}|{{ .name | trimAll "$" }}|'
            '{{ trimSuffix "-" "a-" }}|{{ trimPrefix "-" "-a" }}',
            "x|5.00|a|a",
        ),
        (
            '{{ int "42" }} {{ int "3.00" }} {{ int "3.5" }} {{ int "0x10" }} {{ int "08" }} {{ int 3.9 }}',
            "42 3 0 16 0 3",
        ),
        ('{{ float64 "1.5" }} {{ float64 "abc" }} {{ float64 "1e3" }} {{ float64 3 }}', "1.5 0 1000 3"),
        ("{{ add 3 2 5 }} {{ add .n 1 }} {{ add }}", "10 4 0"),
        (
            "{{ sub 5 2 }} {{ mul 5 3 2 }} {{ div 10 2 }} {{ div 7 -2 }} {{ mod 10 3 }} {{ mod -7 2 }}",
            "3 30 5 -3 1 -1",
        ),
        (
            "{{ addf 3.5 2 }} {{ addf 0.1 0.2 }} {{ subf 5.5 2 }} {{ mulf 5.5 2 }} {{ divf 10 4 }}",
            "5.5 0.3 3.5 11 2.5",
        ),
        ("{{ divf 1 3 }} {{ divf 2 3 }}", "0.3333333333333333 0.6666666666666667"),
        (
            "{{ max 1 2 3 }} {{ min 3 1 2 }} {{ maxf 1 2.5 3 }} {{ minf 1 2.5 3 }} {{ maxf .x 1 }}",
            "3 1 3 1 3.14159",
        ),
        (
            "{{ round 123.5555 3 }} {{ round 2.5 0 }} {{ round -2.5 0 }} {{ round 1.25 1 0.6 }}",
            "123.556 3 -3 1.2",
        ),
        ("{{ ceil 123.001 }} {{ floor 123.9999 }} {{ ceil .x }}", "124 123 4"),
        ('{{ fromJson "{\\"foo\\": 55}" }}', "map[foo:55]"),
        (
            "{{ (fromJson .json).foo }} {{ (fromJson .json).bar.baz }} {{ (fromJson .json).arr }}",
            "55 q [1 two]",
        ),
        ('{{ (fromJson .json).nope }}|{{ fromJson "not json" }}', "<no value>|<no value>"),
        ('{{ toDate "2006-01-02" "2021-11-02" | unixEpoch }}', "1635811200"),
        ('{{ toDate "2006-01-02" "2021-11-02" | date "20060102" }}', "20211102"),
        (
            '{{ date "2006-01-02" (toDate "2006-01-02" "2021-11-02") }} {{ date "15:04" 3600 }}',
            "2021-11-02 01:00",
        ),
        ('{{ toDate "2006-01-02" "garbage" }}', "0001-01-01 00:00:00 +0000 UTC"),
        (
            '{{ toDate "2006-01-02T15:04:05Z07:00" "2021-11-02T10:00:00+02:00" }}',
            "2021-11-02 10:00:00 +0200 +0200",
        ),
        (
            '{{ default "-" .missing }} {{ .app | default "-" }} '
            '{{ .empty | default "none" }} {{ default 5 0 }}',
            "- api none 5",
        ),
        # Go builtins
        ('{{ len .app }} {{ len "é" }}', "3 2"),
        ('{{ index (fromJson .json) "foo" }} {{ index (fromJson .json).arr 1 }}', "55 two"),
        ("{{ slice .msg 0 5 }}|{{ slice .msg 6 }}", "Hello|World"),
        ('{{ print "a" 1 2 "b" }}|{{ println "a" 1 }}', "a1 2b|a 1\n"),
        (
            '{{ eq .n "3" }} {{ ne .n "3" }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}',
            "true false true true true false",
        ),
        ('{{ and 1 0 2 }} {{ or 0 "" 3 }} {{ and 1 2 }} {{ or 0 0 }}', "0 3 2 0"),
        ("{{ html \"<a href='x'>&</a>\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"),
        ('{{ js "it\'s <b>" }} {{ urlquery "a b" }}', "it\\'s \\u003Cb\\u003E a+b"),
        # Heron extras
        ('{{ trimSpace "  a " }} {{ abs -3 }} {{ abs "-2.5" }}', "a 3 2.5"),
    ],
)
def test_render(text: str, want: str) -> None:
    if text == "{{ . }}":
        want = "map[" + " ".join(f"{k}:{LABELS[k]}" for k in sorted(LABELS)) + "]"
    assert render(text) == want


QUERIES = '[{"query":"rate","duration":30},{"query":"sum","duration":15}]'


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # Loki's template_functions.md fromJson example, over a two-query array
        ("{{ range $q := fromJson .queries }} {{ $q.query }} {{ end }}", " rate  sum "),
        ("{{ range fromJson .queries }}{{ .query }}={{ .duration }};{{ end }}", "rate=30;sum=15;"),
        ("{{ range $i, $q := fromJson .queries }}{{ $i }}:{{ $q.query }} {{ end }}", "0:rate 1:sum "),
        ('{{ range $k, $v := fromJson "{\\"b\\":1,\\"a\\":2}" }}{{ $k }}={{ $v }},{{ end }}', "a=2,b=1,"),
        ('{{ range fromJson "[]" }}x{{ else }}empty{{ end }}', "empty"),
        ('{{ range fromJson "null" }}x{{ else }}nil{{ end }}', "nil"),
        ("{{ range $k, $v := . }}{{ $k }}{{ end }}", "queriesx"),
        ('{{ range fromJson "[1,2,3]" }}{{ if eq . 2.0 }}{{ break }}{{ end }}{{ . }}{{ end }}', "1"),
        ('{{ range fromJson "[1,2,3]" }}{{ if eq . 2.0 }}{{ continue }}{{ end }}{{ . }}{{ end }}', "13"),
        ('{{ range fromJson "[{\\"m\\":\\"P\\"}]" }}{{ .m }} {{ $.x }}{{ end }}', "P y"),
        ("{{ $x := .x }}{{ $x }}-{{ $x = upper $x }}{{ $x }}", "y-Y"),
        ("{{ with $v := .x }}{{ $v }}{{ . }}{{ end }}", "yy"),
        ("{{ if $v := .nolabel }}a{{ else }}b{{ $v }}c{{ end }}", "bc"),
        ('{{ range $i, $e := fromJson "[5]" }}{{ $n := 1 }}{{ $n }}{{ end }}', "1"),
    ],
)
def test_control_flow(text: str, want: str) -> None:
    assert compile_template(text).render({"queries": QUERIES, "x": "y"}, "", 0) == want


def test_range_over_a_string_fails_per_line() -> None:
    with pytest.raises(TemplateExecError, match=r"line:1:9: executing \"line\" at <range .x>: range can't"):
        compile_template("{{ range .x }}{{ end }}").render({"x": "y"}, "", 0)


def test_dot_prints_map() -> None:
    assert render("{{ . }}", {"b": "2", "a": "1"}) == "map[a:1 b:2]"


def test_now_and_reuse() -> None:
    t = compile_template("{{ now | unixEpoch }}")
    got = int(t.render({}, "", 0))
    assert abs(got - time.time()) < 5
    tpl = compile_template("{{ .level | upper }}:{{ __line__ }}")
    assert [tpl.render({"level": lv}, f"l{i}", i) for i, lv in enumerate(["a", "b"])] == ["A:l0", "B:l1"]
    simple = compile_template("{{.level}}")
    assert simple.render({"level": "x"}, "", 0) == "x" and simple.render({}, "", 0) == ""


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("{{ .a", "unclosed action"),
        ("{{ if .a }}x", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ("{{ nope .a }}", 'function "nope" not defined'),
        ('{{ "abc }}', "unterminated quoted string"),
        ("{{ `abc }}", "unterminated raw quoted string"),
        ("{{ }}", "missing value for command"),
        ("{{ | .a }}", "empty command"),
        ("{{ .a | }}", "empty command"),
        ("{{ nil }}", "nil is not a command"),
        ('{{ "a" | "b" }}', "non executable command in pipeline stage 2"),
        ('{{ "a" | . }}', "non executable command in pipeline stage 2"),
        ('{{ define "x" }}{{ end }}', '"define" is not supported'),
        ("{{ $y }}", 'undefined variable "$y"'),
        ("{{ $y = 1 }}", 'undefined variable "$y"'),
        ("{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "$x"'),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ("{{ range . }}{{ else }}{{ continue }}{{ end }}", "{{continue}} outside {{range}}"),
        ("{{ $a, $b := 1 }}", "too many declarations in command"),
        ("{{ range $a, $b, $c := . }}{{ end }}", "too many declarations in range"),
        ('{{ define "x" }}{{ end }}', '"define" is not supported'),
        ("{{ $x }}", "undefined variable"),
        ("{{ 3x }}", "bad number syntax"),
        ("{{ .a# }}", "bad character"),
        ("{{ ( .a }}", "unclosed left paren"),
        ("{{ .a ) }}", "unexpected right paren"),
        ("{{/* x }}", "unclosed comment"),
        ("{{ if .a }}{{ else }}{{ else }}{{ end }}", "expected end; found {{else}}"),
        ('{{ "\\q" }}', "invalid syntax"),
        ("{{ 99999999999999999999 }}", "illegal number syntax"),
        ("a\nb {{ end }}", "template: line:2:"),
    ],
)
def test_parse_errors(text: str, msg: str) -> None:
    with pytest.raises(TemplateError, match="^template: line:") as info:
        compile_template(text)
    assert msg in str(info.value)


def test_template_name_in_messages() -> None:
    with pytest.raises(ValueError, match="^template: label:1: "):
        compile_template("{{ end }}", name="label")


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("{{ eq .status 200 }}", "error calling eq: incompatible types for comparison"),
        ('{{ lt true "a" }}', "invalid type for comparison"),
        ('{{ repeat .n "x" }}', "wrong type for value; expected int; got string"),
        ('{{ repeat 1.5 "x" }}', "expected integer; found 1.5"),
        ("{{ upper 3 }}", "expected string; found 3"),
        ("{{ 3 | upper }}", "wrong type for value; expected string; got int"),
        ('{{ round 1.5 "a" }}', 'expected integer; found "a"'),
        ("{{ .app.b }}", "can't evaluate field b in type string"),
        ("{{ (fromJson .json).nope.x }}", "nil pointer evaluating interface {}.x"),
        ("{{ div 1 0 }}", "error calling div: runtime error: integer divide by zero"),
        ("{{ divf 1 0 }}", "error calling divf: decimal division by 0"),
        ('{{ repeat -1 "x" }}', "error calling repeat: strings: negative Repeat count"),
        ("{{ upper }}", "wrong number of args for upper: want 1 got 0"),
        ('{{ upper "a" "b" }}', "wrong number of args for upper: want 1 got 2"),
        ('{{ "a" | __line__ }}', "wrong number of args for __line__: want 0 got 1"),
        ("{{ and }}", "wrong number of args for and: want at least 1 got 0"),
        (
            '{{ regexReplaceAll "(" .app "" }}',
            "error calling regexReplaceAll: error parsing regexp: missing )",
        ),
        ('{{ urldecode "%zz" }}', 'error calling urldecode: invalid URL escape "%zz"'),
        ('{{ unixToTime "123" }}', "error calling unixToTime: unable to parse time '123': %!w(<nil>)"),
        (
            '{{ unixToTime "abc" }}',
            "unable to parse time 'abc': strconv.ParseInt: parsing \"abc\": invalid syntax",
        ),
        ('{{ duration "5" }}', 'time: missing unit in duration "5"'),
        ('{{ bytes "12 XB" }}', "unhandled size name: xb"),
        ("{{ len 3 }}", "error calling len: len of type int"),
        ("{{ index .app 9 }}", "index out of range: 9"),
        ("{{ unixEpoch .app }}", "wrong type for value; expected time.Time; got string"),
        ("{{ upper nil }}", "cannot assign nil to string"),
        ('{{ .app Replace "foo" }}', "app is not a method but has arguments"),
        ('{{ "a" | .app }}', "app is not a method but has arguments"),
        ('{{ .app.x "b" }}', "can't evaluate field x in type string"),
        ('{{ "a" "b" }}', 'can\'t give argument to non-function "a"'),
        ('{{ . "b" }}', "can't give argument to non-function ."),
        ("{{ .missing | duration }}", 'error calling duration: time: invalid duration ""'),
        ("{{ .missing | duration_seconds }}", 'time: invalid duration ""'),
        ('{{ duration "+" }}', 'time: invalid duration "+"'),
    ],
)
def test_exec_errors(text: str, msg: str) -> None:
    tpl = compile_template(text)  # these parse; Loki reports them per line as TemplateFormatErr
    with pytest.raises(TemplateExecError) as info:
        tpl.render(LABELS, "line", TS)
    assert str(info.value).startswith("template: line:1:") and 'executing "line" at <' in str(info.value)
    assert msg in str(info.value)


def test_b64dec_error_is_the_result() -> None:
    assert render('{{ b64dec "@@" }}') == "illegal base64 data at input byte 0"  # Sprig returns err.Error()


@pytest.mark.parametrize(
    ("data", "want"),
    [
        ("Zm9vYmE=", "fooba"),
        # Loki's base64Decode pads a tail of 2 or 3 characters before Go's StdEncoding decodes
        ("Zm9vYmE", "fooba"),
        ("Zm9vYg", "foob"),
        # a tail of 1 cannot be padded: Go's error at the start of the short quantum
        ("Zm9vY", "illegal base64 data at input byte 4"),
        ("Zg", "f"),
    ],
)
def test_b64dec_padding(data: str, want: str) -> None:
    assert render('{{ b64dec "' + data + '" }}') == want


def test_exec_error_columns_are_go_byte_offsets() -> None:
    """Go's ErrorContext gives the 0-based byte offset of the node within its line."""
    for text, where in [
        ('{{.app Replace "foo"}}', "template: line:1:2: "),
        ("ab\n{{ .app | duration }}", "template: line:2:10: "),
    ]:
        with pytest.raises(TemplateExecError) as info:
            compile_template(text).render(LABELS, "line", TS)
        assert str(info.value).startswith(where), str(info.value)
    with pytest.raises(TemplateExecError) as info:  # transcribed from Loki's fmt_test.go "err" case
        compile_template('{{.foo Replace "foo"}}').render({"foo": "blip", "bar": "blop"}, "", 0)
    assert str(info.value) == (
        'template: line:1:2: executing "line" at <.foo>: foo is not a method but has arguments'
    )


def test_zero_padding_an_empty_string() -> None:
    assert render('{{ printf "%05s|%-3s|" "" "" }}') == "00000|   |"


@pytest.mark.parametrize(
    ("fmt", "args", "want"),
    [
        ("%s %v %d", ("a", "b", 3), "a b 3"),
        ("%q", ('a"b\n\x01é',), '"a\\"b\\n\\x01é"'),
        ("%q %c %U", (97, 0x263A, 0x263A), "'a' ☺ U+263A"),
        (
            "%5.1f|%-5s|%05d|%x|%X|%o|%b|%t",
            (3.14159, "ab", 42, 255, 255, 8, 5, True),
            "  3.1|ab   |00042|ff|FF|10|101|true",
        ),
        ("%+d % d %#x %#o", (5, 5, 255, 8), "+5  5 0xff 010"),
        (
            "%e %E %.3e %g %.3g %G",
            (1234.5678, 1234.5678, 1234.5678, 1234.5678, 1234.5678, 1e21),
            "1.234568e+03 1.234568E+03 1.235e+03 1234.5678 1.23e+03 1E+21",
        ),
        ("%v %v %v %v", (1e6, 1e-5, 100000.0, float("inf")), "1e+06 1e-05 100000 +Inf"),
        ("%f %.0f %8.3f", (2.5, 2.5, -1.0), "2.500000 2   -1.000"),
        ("%.2s|%6.2s|%x|% x", ("hello", "hello", "hi", "hi"), "he|    he|6869|68 69"),
        ("%d|%s|%f|%t", ("x", 3, "y", 1), "%!d(string=x)|%!s(int=3)|%!f(string=y)|%!t(int=1)"),
        ("%d %d", (1,), "1 %!d(MISSING)"),
        ("%d", (1, "x", 2.5), "1%!(EXTRA string=x, float64=2.5)"),
        ("100%% %", (), "100% %!(NOVERB)"),
        ("%*d|%-*d|%.*f", (4, 7, 3, 7, 2, 3.14159), "   7|7  |3.14"),
        ("%v %s %d", (None, None, None), "<nil> %!s(<nil>) %!d(<nil>)"),
        ("%v", ({"b": 1.0, "a": [1.0, "x"]},), "map[a:[1 x] b:1]"),
    ],
)
def test_sprintf(fmt: str, args: tuple[object, ...], want: str) -> None:
    assert go_sprintf(fmt, *args) == want


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (1e21, "1e+21"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.0 / 3, "0.3333333333333333"),
        (2.5e-300, "2.5e-300"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Inf"),
        (123456789.0, "1.23456789e+08"),
    ],
)
def test_go_float_v(value: float, want: str) -> None:
    assert go_format_float(value) == want


@pytest.mark.parametrize(
    ("layout", "want"),
    [
        ("2006-01-02T15:04:05.999999999Z07:00", "2023-11-14T22:13:20.123456789Z"),
        ("2006-01-02T15:04:05.000Z0700", "2023-11-14T22:13:20.123Z"),
        ("Jan _2 06 3:04:05PM", "Nov 14 23 10:13:20PM"),
        ("Monday, 02-Jan-06 15:04:05 MST", "Tuesday, 14-Nov-23 22:13:20 UTC"),
        ("January 2, 2006 03:04 pm -07:00 -0700 -07", "November 14, 2023 10:13 pm +00:00 +0000 +00"),
        ("002 __2 .9 ,000 .999", "318 318 .1 ,123 .123"),
        ("_2006 is _2", "_2023 is 14"),
    ],
)
def test_go_time_format(layout: str, want: str) -> None:
    assert format_time(GoTime.from_unix_nano(TS), layout) == want


def test_go_time_zones_and_zero() -> None:
    t = GoTime(0, 0, -7 * 3600 - 30 * 60, "")
    assert (
        format_time(t, "2006-01-02 15:04 MST Z07:00 -07:00:00 Z0700")
        == "1969-12-31 16:30 -0730 -07:30 -07:30:00 -0730"
    )
    assert GoTime.zero().string() == "0001-01-01 00:00:00 +0000 UTC"
    assert GoTime.from_unix_nano(-1).string() == "1969-12-31 23:59:59.999999999 +0000 UTC"


@pytest.mark.parametrize(
    ("layout", "value", "unix"),
    [
        ("2006-01-02", "2021-11-02", 1635811200),
        ("2006-01-02T15:04:05Z07:00", "2021-11-02T10:00:00Z", 1635847200),
        ("2006-01-02T15:04:05Z07:00", "2021-11-02T10:00:00-01:30", 1635852600),
        ("2006-01-02 15:04:05", "2021-11-02 10:00:00.250", 1635847200),  # fraction after seconds is accepted
        ("Jan _2 15:04:05 2006", "Nov  2 10:00:00 2021", 1635847200),
        ("02/Jan/2006:15:04:05 -0700", "10/Jun/2021:09:14:29 +0000", 1623316469),
        ("3:04PM 2006-01-02", "10:00AM 2021-11-02", 1635847200),
        ("2006-01-02 15:04 MST", "2021-11-02 10:00 UTC", 1635847200),
        ("15:04", "01:00", -62167215600),  # no date: year 0, January 1
    ],
)
def test_go_time_parse(layout: str, value: str, unix: int) -> None:
    assert parse_time(layout, value).sec == unix


@pytest.mark.parametrize(
    ("layout", "value"),
    [
        ("2006-01-02", "2021-13-02"),
        ("2006-01-02", "2021-02-30"),
        ("2006-01-02", "2021-11-02x"),
        ("15:04", "25:00"),
        ("Jan", "Foo"),
    ],
)
def test_go_time_parse_errors(layout: str, value: str) -> None:
    with pytest.raises(ValueError):
        parse_time(layout, value)


# --- output bounded by the max line size (issue 18) -------------------------------------------


@pytest.mark.parametrize(
    ("text", "function"),
    [
        ('{{ repeat 100000000 "x" }}', "repeat"),
        ('{{ repeat 600 "é" }}', "repeat"),  # 1200 bytes of UTF-8 in 600 characters
        ('{{ Replace (repeat 500 "x") "x" "yyyyy" -1 }}', "Replace"),
        ('{{ replace "" "xxxxxxxxxx" (repeat 200 "a") }}', "replace"),
        ('{{ regexReplaceAll "" (repeat 500 "a") "bbb" }}', "regexReplaceAll"),
        ('{{ regexReplaceAllLiteral "a" (repeat 500 "a") "$1$1$1" }}', "regexReplaceAllLiteral"),
        ('{{ indent 100000000 "a" }}', "indent"),
        ('{{ nindent 300 "a\\nb\\nc\\nd" }}', "nindent"),
        ('{{ alignLeft 100000000 "a" }}', "alignLeft"),
        ('{{ alignRight 100000000 "a" }}', "alignRight"),
        ('{{ printf "%9999999s" "a" }}', "printf"),
        ('{{ printf "%.9999999f" 1.5 }}', "printf"),
        ('{{ printf "%*d" 999999 1 }}', "printf"),
        ('{{ printf "%s%s%s" (repeat 400 "a") (repeat 400 "a") (repeat 400 "a") }}', "printf"),
        ('{{ print (repeat 600 "a") (repeat 600 "a") }}', "print"),
        ('{{ println (repeat 600 "a") (repeat 600 "a") }}', "println"),
        ('{{ html (repeat 600 "a") (repeat 600 "a") }}', "html"),
        ('{{ b64enc (repeat 900 "a") }}', "b64enc"),  # any other function: its result is checked
    ],
)
def test_growing_functions_refuse_output_past_the_limit(text: str, function: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateExecError) as err:
            compile_template(text, max_bytes=1000).render(LABELS, "the line", TS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert f"error calling {function}: output of " in msg
    assert "exceeds the maximum line size of 1000 bytes (max_line_size)" in msg
    assert peak < 256 * 1024, f"{peak} bytes allocated to refuse a 1000-byte limit"


def test_output_pieces_are_counted_as_they_are_appended() -> None:
    tmpl = compile_template('{{ repeat 600 "a" }}-{{ repeat 600 "b" }}', max_bytes=1000)
    with pytest.raises(
        TemplateExecError, match=r'line:1:24: executing "line" at <repeat 600 "b">: output of at least'
    ):
        tmpl.render({}, "", 0)
    text = "{{ if true }}" + "x" * 600 + "{{ end }}{{ if true }}" + "é" * 300 + "{{ end }}"  # 1200 bytes
    with pytest.raises(TemplateExecError, match="output of 1200 bytes exceeds the maximum line size of 1000"):
        compile_template(text, max_bytes=1000).render({}, "", 0)


def test_output_at_the_limit_is_rendered() -> None:
    assert compile_template('{{ repeat 1000 "x" }}', max_bytes=1000).render({}, "", 0) == "x" * 1000
    assert compile_template('{{ repeat 500 "é" }}', max_bytes=1000).render({}, "", 0) == "é" * 500
    assert compile_template('{{ replace "" "-" "abc" }}', max_bytes=7).render({}, "", 0) == "-a-b-c-"
    assert compile_template('{{ indent 2 "a\\nb" }}', max_bytes=7).render({}, "", 0) == "  a\n  b"
    # the default is Heron's default max_line_size, 256 KiB
    with pytest.raises(TemplateExecError, match="maximum line size of 262144 bytes"):
        compile_template('{{ repeat 262145 "x" }}').render({}, "", 0)


@pytest.mark.parametrize(
    ("fmt", "args", "want"),
    [
        ("%100000000s|", ("a",), "%!(NOVERB)%!(EXTRA string=a)"),  # Go's parsenum gives up
        ("%.100000000f|", (1.5,), "%!(NOVERB)%!(EXTRA float64=1.5)"),
        ("%*d", (10_000_000, 1), "%!(BADWIDTH)1"),
        ("%.*f", (10_000_000, 1.5), "%!(BADPREC)1.500000"),
        ("%c|%c", (0xD800, 0x110000), "\ufffd|\ufffd"),  # utf8.EncodeRune: surrogates are U+FFFD
    ],
)
def test_sprintf_width_and_rune_bounds_follow_go(fmt: str, args: tuple[object, ...], want: str) -> None:
    assert go_sprintf(fmt, *args) == want
