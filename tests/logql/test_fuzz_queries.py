"""Random LogQL queries and parameters against a real server: every answer is 200 or a 4xx that
says why, never a 5xx.

Queries are built as text from pieces of every kind the language has (line filters, each
parser, label filters, line_format/label_format templates over the template functions, drop and
keep, range and vector aggregations, binary operations, label_replace), with numbers drawn
from the small, the negative and the absurd, and sometimes a piece that is just random text.
Parameters (start, end, since, step, limit, direction, interval, time) get the same treatment.
The data holds logfmt, JSON, packed and plain lines, one with bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from heron.ship.loki_encode import PROTOBUF_CONTENT_TYPE, encode_push_request
from heron.storage import LogBatch
from serverproc import ServerProc, start_server

S = 10**9
NOW = (time.time_ns() // S - 600) * S

NUMBERS = st.one_of(
    st.integers(-3, 20),
    st.sampled_from([0, 1, 1000, 11001, 10**6, 10**8, 2**31, 2**63, 10**30, -(2**63)]),
)
FLOATS = st.one_of(NUMBERS.map(str), st.sampled_from(["0.5", "-1", "1e300", "NaN", "Inf", "1.5e-9"]))
DURATIONS = st.sampled_from(["0s", "1ms", "1s", "30s", "1m", "5m", "1h", "24h", "100000h", "2562047h", "0"])
WORDS = st.sampled_from(["level", "n", "msg", "user", "status", "latency", "size", "k", "a", "é", "\ufffd"])
STRINGS = st.one_of(
    st.sampled_from(["error", "info", "", ".*", "(", "[a-", "\\\\", "é", "\ufffd", "x{1000}", "a|b"]),
    st.text(max_size=6),
)


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


TEMPLATE_CALLS = st.one_of(
    st.builds(lambda n, s: f"repeat {n} {_quote(s)}", NUMBERS, STRINGS),
    st.builds(lambda n: f'indent {n} "a\\nb"', NUMBERS),
    st.builds(lambda n: f'nindent {n} "a"', NUMBERS),
    st.builds(lambda n: f'alignLeft {n} "ab"', NUMBERS),
    st.builds(lambda n: f'alignRight {n} "ab"', NUMBERS),
    st.builds(lambda w, p: f'printf "%{w}.{p}f|%*d" 1.5 {w} 3', NUMBERS, NUMBERS),
    st.builds(lambda w: f'printf "%{w}s" .msg', NUMBERS),
    st.builds(lambda s: f'replace "" {_quote(s)} __line__', STRINGS),
    st.builds(lambda s: f'Replace __line__ "" {_quote(s)} -1', STRINGS),
    st.builds(lambda r, s: f"regexReplaceAll {_quote(r)} __line__ {_quote(s)}", STRINGS, STRINGS),
    st.builds(lambda a, b: f'slice "éa" {a} {b}', NUMBERS, NUMBERS),
    st.builds(lambda n: f'printf "%c" {n}', NUMBERS),
    st.builds(lambda n: f"substr {n} 3 __line__", NUMBERS),
    st.builds(lambda n: f"trunc {n} __line__", NUMBERS),
    st.builds(lambda f: f"round {f} 3", FLOATS),
    st.builds(lambda f, n: f"div {f} {n}", FLOATS, NUMBERS),
    st.builds(lambda w: f".{w} | b64enc | b64dec | urlencode | urldecode | upper | title", WORDS),
    st.builds(lambda w: f"fromJson __line__ | len | default .{w}", WORDS),
    st.builds(lambda w: f'date "2006-01-02" (unixToTime .{w})', WORDS),
    st.builds(lambda w: f"print __line__ __line__ .{w} | js | html | urlquery", WORDS),
    st.builds(lambda w: f'index . "{w}"', WORDS),
    st.builds(lambda w: f".{w} | int | add 1 | mul 2 | float64", WORDS),
    st.builds(lambda n: f"__timestamp__ | unixEpochNanos | len | add {n}", NUMBERS),
    st.text(max_size=12),
)
TEMPLATES = st.lists(
    st.one_of(TEMPLATE_CALLS.map(lambda c: "{{ " + c + " }}"), st.sampled_from(["x", " ", "{{", "}}"])),
    min_size=1,
    max_size=3,
).map("".join)


def _backquote(s: str) -> str:
    return "`" + s.replace("`", "") + "`"


STAGES = st.one_of(
    st.builds(
        lambda op, s: f"{op} {_quote(s)}", st.sampled_from(["|=", "!=", "|~", "!~", "|>", "!>"]), STRINGS
    ),
    st.builds(lambda a, b: f"|= {_quote(a)} or {_quote(b)}", STRINGS, STRINGS),
    st.sampled_from(["| json", "| logfmt", "| logfmt --strict", "| logfmt --keep-empty", "| unpack"]),
    st.sampled_from(["| decolorize", "| drop level", "| keep n, msg", '| drop __error__, k="v"']),
    st.builds(lambda w, s: f"| json {w}={_quote(s)}", WORDS, STRINGS),
    st.builds(lambda w, s: f"| logfmt {w}={_quote(s)}", WORDS, STRINGS),
    st.builds(lambda s: f"| regexp {_quote(s)}", st.one_of(STRINGS, st.just("(?P<n>\\\\d+)"))),
    st.builds(lambda s: f"| pattern {_quote(s)}", st.one_of(STRINGS, st.just("<_> n=<n> <_>"))),
    st.builds(
        lambda w, op, v: f"| {w} {op} {v}",
        WORDS,
        st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "==", "=~", "!~"]),
        st.one_of(FLOATS, STRINGS.map(_quote), DURATIONS, st.sampled_from(["10KB", "1e400", "-5ms"])),
    ),
    st.builds(lambda t: f"| line_format {_backquote(t)}", TEMPLATES),
    st.builds(lambda w, t: f"| label_format {w}={_backquote(t)}", WORDS, TEMPLATES),
    st.builds(lambda a, b: f"| label_format {a}={b}", WORDS, WORDS),
    st.just('| __error__=""'),
    st.text(max_size=8),
)
SELECTORS = st.sampled_from(
    ['{job="fuzz"}', '{job=~"fuzz|plain"}', '{kind="json"}', '{kind=~"j.*|raw"}', '{job!=""}']
)
LOG_QUERIES = st.builds(lambda sel, stages: " ".join([sel, *stages]), SELECTORS, st.lists(STAGES, max_size=4))

RANGE_OPS = st.sampled_from(
    ["count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time", "sum_over_time",
     "avg_over_time", "max_over_time", "min_over_time", "stddev_over_time", "stdvar_over_time",
     "first_over_time", "last_over_time", "rate_counter", "quantile_over_time"]
)  # fmt: skip
UNWRAPS = st.sampled_from(
    ["", "| unwrap n", "| unwrap duration(latency)", "| unwrap bytes(size)", "| unwrap k"]
)


def _range_agg(op: str, log: str, unwrap: str, rng: str, offset: str, q: str) -> str:
    inner = f"{log} {unwrap} [{rng}]{offset}"
    return f"{op}({q}, {inner})" if op == "quantile_over_time" else f"{op}({inner})"


RANGE_AGGS = st.builds(
    _range_agg,
    RANGE_OPS,
    LOG_QUERIES,
    UNWRAPS,
    DURATIONS,
    st.sampled_from(["", " offset 1m", " offset -5m", " offset 100000h"]),
    FLOATS,
)


def _vector_agg(op: str, grouping: str, param: str, inner: str) -> str:
    if op in ("topk", "bottomk"):
        return f"{op}{grouping}({param}, {inner})"
    return f"{op}{grouping}({inner})"


def _metric(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            _vector_agg,
            st.sampled_from(["sum", "avg", "min", "max", "count", "stddev", "topk", "bottomk", "sort_desc"]),
            st.sampled_from(["", " by (n)", " without (level)", " by ()", " by (__error__)"]),
            FLOATS,
            children,
        ),
        st.builds(
            lambda a, op, mod, b: f"({a}) {op}{mod} ({b})",
            children,
            st.sampled_from(["+", "-", "*", "/", "%", "^", "==", ">", "<=", "and", "or", "unless"]),
            st.sampled_from(["", " bool", " on(n)", " ignoring(level)", " on(n) group_left(level)"]),
            st.one_of(children, FLOATS),
        ),
        st.builds(
            lambda inner, r: f'label_replace({inner}, "dst", "$1", "n", {_quote(r)})', children, STRINGS
        ),
        st.builds(lambda f: f"vector({f})", FLOATS),
    )


METRIC_QUERIES = st.recursive(RANGE_AGGS, _metric, max_leaves=3)
QUERIES = st.one_of(
    LOG_QUERIES, METRIC_QUERIES, METRIC_QUERIES, METRIC_QUERIES, st.text(min_size=1, max_size=30)
)

TIMES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            str(NOW // S),
            str(NOW),
            "0",
            "-1",
            "1e300.5",
            "-99999999999999999999",
            "9" * 400,
            "2262-04-12T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "now",
            "1.5",
            str(NOW // S - 3600),
        ]
    ),  # fmt: skip
    st.integers().map(str),
)
STEPS = st.one_of(
    st.none(), st.sampled_from(["1s", "0", "-1", "0.001", "1e300", "15", "1h", "9" * 400, "1ms", "abc"])
)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "start": TIMES,
        "end": TIMES,
        "since": st.sampled_from(["1h", "0s", "-1h", "100000h", "9" * 400 + "h", "1e300", "x"]),
        "step": STEPS,
        "limit": st.sampled_from(["1", "10", "100", "1000", "5000", "0", "-5", "5001", "9" * 30, "x"]),
        "direction": st.sampled_from(["forward", "backward", "FORWARD", "", "sideways"]),
        "interval": st.sampled_from(["1s", "0", "-1s", "1e300", "x"]),
        "time": TIMES,
    },
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(
        Path(tmp_path_factory.mktemp("fuzz")) / "data", "--query-workers", "1", "--query-timeout", "20s"
    )
    # a heap cap, inherited by the query worker it starts: a runaway query fails with MemoryError
    # (a 500 here), not the machine
    with open(f"/proc/{s.proc.pid}/status") as f:
        data = next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmData:"))
    psutil.Process(s.proc.pid).rlimit(psutil.RLIMIT_DATA, (data + 2**30, data + 2**30))
    lines = []
    for i in range(200):
        level = ["info", "warn", "error"][i % 3]
        lines.append(
            (
                {"job": "fuzz", "kind": "logfmt"},
                f'level={level} n={i} msg="hello é {i}" user=u{i % 4} latency={i}ms size={i}KB',
            )
        )
        lines.append(
            ({"job": "fuzz", "kind": "json"}, json.dumps({"level": level, "n": i, "k": {"v": [i, "x"]}}))
        )
        lines.append(({"job": "plain"}, f"\x1b[31mplain line {i}\x1b[0m status={200 + i % 5}"))
    lines.append(({"job": "fuzz", "kind": "packed"}, json.dumps({"_entry": "inner n=1", "k": "v"})))
    streams: dict[str, dict[str, object]] = {}
    for k, (labels, line) in enumerate(lines):
        key = json.dumps(labels, sort_keys=True)
        st_ = streams.setdefault(key, {"stream": labels, "values": []})
        st_["values"].append([str(NOW + k * 10**8), line])  # type: ignore[attr-defined]
    body = json.dumps({"streams": list(streams.values())})
    try:
        r = httpx.post(
            s.url + "/loki/api/v1/push", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 204, r.text
        # one line whose bytes are not UTF-8: JSON refuses those, protobuf lines carry any bytes
        raw = LogBatch((("job", "fuzz"), ("kind", "raw")), [NOW], [b"a=\xff b=\xc3"])
        r = httpx.post(
            s.url + "/loki/api/v1/push",
            content=encode_push_request([raw]),
            headers={"content-type": PROTOBUF_CONTENT_TYPE},
        )
        assert r.status_code == 204, r.text
    except BaseException:
        s.stop()
        raise
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def http(fuzz_server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_server.url, timeout=60) as c:
        yield c


def _check(client: httpx.Client, path: str, params: dict[str, str]) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, params, r.text[:500])
    if r.status_code == 200:
        assert r.json()["status"] == "success"
    else:
        assert r.text.strip(), (r.status_code, params)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(query=QUERIES, params=PARAMS, instant=st.booleans())
@example(query='rate({job="fuzz"}[0s])', params={}, instant=False)
@example(query='{job="fuzz"} | logfmt \ufffd| a="1"', params={}, instant=False)
@example(query='{job="fuzz"}', params={"start": "-99999999999999999999"}, instant=False)
@example(query='{job="fuzz"}', params={"end": "9" * 400}, instant=False)
@example(query='count_over_time({job="fuzz"}[1m])', params={"start": "0", "step": "1s"}, instant=False)
@example(query='{job="fuzz"} | label_format s=`{{ slice "é" 0 1 }}`', params={"since": "1h"}, instant=False)
@example(query='{job="fuzz"} | unpack | json', params={"since": "1h"}, instant=False)
@example(query='topk(1, {job="fuzz"})', params={}, instant=True)
def test_random_queries_answer_200_or_4xx(
    http: httpx.Client, query: str, params: dict[str, str | None], instant: bool
) -> None:
    sent = {k: v for k, v in params.items() if v is not None}
    sent["query"] = query
    if "start" not in sent and "since" not in sent:
        sent["since"] = "1h"
    _check(http, "/loki/api/v1/query" if instant else "/loki/api/v1/query_range", sent)
