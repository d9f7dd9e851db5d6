"""Random LogQL pipelines over random lines, labels and structured metadata, against one real
`heron server` with its default query workers: every answer is 200, or a 4xx with a message.

Each example pushes its own entries under a stream label of its own, then runs one pipeline
built from every parser (json, logfmt with its flags, regexp, pattern, unpack, parameterised
forms), formatter (line_format over template functions, label_format), drop, keep,
decolorize and label filters of every type (string, number, duration, bytes, ip()), as a log
query (with and without categorize-labels) or inside a range aggregation with unwrap.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from serverproc import ServerProc, start_server

S = 10**9
KEYS = ["app", "pod", "level", "n", "size", "latency", "ip", "_entry", "msg", "a_b", "é", "__error__"]
VALUES = st.one_of(
    st.sampled_from(["foo", "1", "-2.5", "1e400", "10KB", "5ms", "10.0.0.1", "::1", "", "x y", "NaN"]),
    st.text(max_size=6),
    st.integers(-(2**70), 2**70).map(str),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), VALUES),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=5,
)
LINES = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=5).map(
        lambda d: json.dumps(d, allow_nan=True)
    ),
    st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=5).map(
        lambda kv: " ".join(f"{k}={json.dumps(v, ensure_ascii=False) if ' ' in v else v}" for k, v in kv)
    ),
    st.text(max_size=40),
    st.sampled_from(["\x1b[31mred\x1b[0m n=1", '{"a":', "9" * 400, "{}", '{"_entry":{"x":1}}', "n=1 n=2"]),
)
METADATA = st.dictionaries(st.sampled_from(["pod", "trace_id", "n", "app", "ip"]), VALUES, max_size=3)
ENTRIES = st.lists(st.tuples(LINES, METADATA), min_size=1, max_size=6)
LABELS = st.dictionaries(
    st.sampled_from(["app", "pod", "level", "n"]), st.sampled_from(["foo", "bar", "1"]), max_size=2
)

NAMES = st.sampled_from(["app", "pod", "n", "size", "latency", "ip", "msg", "level", "app_extracted", "x"])
WORDS = st.sampled_from(["foo", "1", "", "é", ".*", "(", "10.0.0.0/8"])
TEMPLATE_FUNCS = st.sampled_from(
    [
        "{{.app}}", "{{.pod}}", "{{ __line__ }}", "{{ __timestamp__ }}", '{{ .n | int | add 1 }}',
        '{{ upper .app }}', '{{ default "d" .x }}', '{{ printf "%s-%v" .app .n }}', '{{ len .msg }}',
        '{{ regexReplaceAll "o+" .app "0" }}', '{{ trunc 3 __line__ }}', '{{ .size | float64 }}',
        '{{ if .pod }}p{{ else }}q{{ end }}', "{{ fromJson __line__ }}", '{{ toJson . }}',
        '{{ unixEpoch (now) }}', "{{ b64enc .app }}", '{{ substr 0 2 .pod }}', "{{", "plain",
    ]
)  # fmt: skip
TEMPLATES = st.lists(TEMPLATE_FUNCS, min_size=1, max_size=3).map("".join)


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _bq(s: str) -> str:
    return "`" + s.replace("`", "") + "`"


LABEL_FILTERS = st.one_of(
    st.builds(lambda n, op, w: f"{n}{op}{_q(w)}", NAMES, st.sampled_from(["=", "!=", "=~", "!~"]), WORDS),
    st.builds(
        lambda n, op, v: f"{n} {op} {v}",
        NAMES,
        st.sampled_from(["==", "!=", ">", ">=", "<", "<="]),
        st.sampled_from(["1", "-2.5", "1e300", "5ms", "1h", "10KB", "1MiB", "0"]),
    ),
    st.builds(
        lambda n, op, ip: f'{n}{op}ip("{ip}")',
        NAMES,
        st.sampled_from(["=", "!="]),
        st.sampled_from(["10.0.0.1", "10.0.0.0/8", "::1-::9", "x"]),
    ),
    st.just('__error__=""'),
    st.just('__error__!=""'),
)
COMBINED_FILTERS = st.one_of(
    LABEL_FILTERS,
    st.builds(
        lambda a, op, b: f"{a} {op} {b}", LABEL_FILTERS, st.sampled_from(["and", "or", ","]), LABEL_FILTERS
    ),
)
STAGES = st.one_of(
    st.sampled_from(["| json", "| logfmt", "| logfmt --strict", "| logfmt --keep-empty", "| unpack"]),
    st.sampled_from(["| logfmt --strict --keep-empty", "| decolorize", '| json pod="pod", v="a.b[0]"']),
    st.builds(
        lambda n, p: f"| json {n}={_q(p)}", NAMES, st.sampled_from(["pod", "a.b", "[0]", "x[1].y", ""])
    ),
    st.builds(lambda n: f"| logfmt {n}", NAMES),
    st.sampled_from(
        [
            '| regexp "(?P<pod>\\\\w+)"',
            '| regexp "(?P<n>\\\\d+)?"',
            '| pattern "<_> n=<n> <_>"',
            '| pattern "<pod>"',
            '| regexp "(?P<app>.)(?P<app>.)"',
            '| pattern "<_><_>"',
        ]
    ),
    st.builds(lambda t: f"| line_format {_bq(t)}", TEMPLATES),
    st.builds(lambda n, t: f"| label_format {n}={_bq(t)}", NAMES, TEMPLATES),
    st.builds(lambda a, b: f"| label_format {a}={b}", NAMES, NAMES),
    st.builds(lambda ns: "| drop " + ", ".join(ns), st.lists(NAMES, min_size=1, max_size=3)),
    st.builds(lambda ns: "| keep " + ", ".join(ns), st.lists(NAMES, min_size=1, max_size=3)),
    st.builds(lambda n, w: f"| drop {n}={_q(w)}", NAMES, WORDS),
    st.builds(lambda op, w: f"{op} {_q(w)}", st.sampled_from(["|=", "!=", "|~", "!~", "|>", "!>"]), WORDS),
    st.builds(
        lambda op, ip: f'{op} ip("{ip}")',
        st.sampled_from(["|=", "!="]),
        st.sampled_from(["10.0.0.1", "::/0"]),
    ),
    COMBINED_FILTERS.map(lambda f: "| " + f),
)
RANGE_OPS = st.sampled_from(
    ["sum_over_time", "avg_over_time", "max_over_time", "min_over_time", "first_over_time",
     "last_over_time", "stddev_over_time", "rate", "rate_counter", "quantile_over_time"]
)  # fmt: skip
UNWRAPS = st.builds(
    lambda conv, n, post: (f"| unwrap {conv}({n})" if conv else f"| unwrap {n}") + post,
    st.sampled_from(["", "duration", "duration_seconds", "bytes"]),
    NAMES,
    st.sampled_from(["", ' | __error__=""', " | n > 1", ' | __error__!=""']),
)


def _metric(op: str, pipeline: str, unwrap: str, agg: str) -> str:
    inner = f"{pipeline} {unwrap} [1m]"
    expr = f"quantile_over_time(0.5, {inner})" if op == "quantile_over_time" else f"{op}({inner})"
    return f"{agg}({expr})" if agg else expr


_counter = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(Path(tmp_path_factory.mktemp("pipefuzz")) / "data", "--query-timeout", "20s")
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def http(server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def _run(
    http: httpx.Client,
    labels: dict[str, str],
    entries: list[tuple[str, dict[str, str]]],
    stages: list[str],
    metric: tuple[str, str, str] | None,
    categorize: bool,
) -> None:
    case = str(next(_counter))
    now = time.time_ns() - 5 * S
    stream = {**labels, "case": case}
    values = [
        [str(now + i), line, md] if md else [str(now + i), line] for i, (line, md) in enumerate(entries)
    ]
    r = http.post("/loki/api/v1/push", json={"streams": [{"stream": stream, "values": values}]})
    if r.status_code != 204:  # random text can be refused (a lone surrogate): never a 5xx
        assert 400 <= r.status_code < 500 and r.text.strip(), (r.status_code, r.text)
        return
    pipeline = " ".join([f'{{case="{case}"}}', *stages])
    query = _metric(metric[0], pipeline, metric[1], metric[2]) if metric else pipeline
    params = {"query": query, "start": str(now - 60 * S), "end": str(now + 60 * S), "step": "10s"}
    headers = {"X-Loki-Response-Encoding-Flags": "categorize-labels"} if categorize else {}
    r = http.get("/loki/api/v1/query_range", params=params, headers=headers)
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, query, r.text[:500])
    if r.status_code == 200:
        assert r.json()["status"] == "success"
    else:
        assert r.text.strip(), (r.status_code, query)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    labels=LABELS,
    entries=ENTRIES,
    stages=st.lists(STAGES, max_size=5),
    metric=st.none()
    | st.tuples(RANGE_OPS, UNWRAPS, st.sampled_from(["", "sum", "max by (n)", "count without (app)"])),
    categorize=st.booleans(),
)
@example(
    labels={"app": "foo"},
    entries=[('{"app":"foo","_entry":"some message","pod":{"uid":"1"}}', {"pod": "pod_sm"})],
    stages=["| unpack", "| json"],
    metric=None,
    categorize=True,
)
def test_random_pipelines_answer_200_or_4xx(
    http: httpx.Client,
    labels: dict[str, str],
    entries: list[tuple[str, dict[str, str]]],
    stages: list[str],
    metric: tuple[str, str, str] | None,
    categorize: bool,
) -> None:
    _run(http, labels, entries, stages, metric, categorize)
