"""`ip("...")` line and label filters: the matcher against ip_cases.yaml (Loki's ip_test.go
cases and a few more), the whole-chunk mask against the per-line matcher, and real queries."""

from __future__ import annotations

import pathlib
import time

import numpy as np
import pytest
import yaml

from heron.api.render import render_query_result
from heron.logql.engine import Engine
from heron.logql.ipfilter import compile_ip, ip_label_filter, ip_mask
from heron.logql.result import QueryError
from heron.logql.syntax import ParseError
from heron.model import labels_from
from heron.storage import Database, LogBatch, StorageOptions
from heron.storage.log_chunks import LogColumns

CASES = yaml.safe_load((pathlib.Path(__file__).parent / "ip_cases.yaml").read_text())
S = 1_000_000_000
T = (time.time_ns() // S - 60) * S


def _columns(lines: list[bytes]) -> LogColumns:
    n = len(lines)
    ends = np.cumsum([len(x) for x in lines], dtype=np.int64) if lines else np.zeros(0, np.int64)
    return LogColumns(np.arange(n, dtype=np.int64), ends, b"".join(lines), np.zeros(n, np.int64), b"")


@pytest.mark.parametrize("case", CASES["filter"], ids=lambda c: c["name"])
def test_filter_cases(case):
    m = compile_ip(case["pat"])
    lines = [x.encode() for x in case["input"]]
    assert [i for i, x in enumerate(lines) if m.search(x)] == case["expected"]
    # the whole-chunk mask (regex pre-selection, then the walk) gives the same lines
    assert np.nonzero(ip_mask(_columns(lines), m))[0].tolist() == case["expected"]


@pytest.mark.parametrize("case", CASES["invalid"], ids=lambda c: c["name"])
def test_invalid_patterns(case):
    with pytest.raises(QueryError) as exc:
        compile_ip(case["pat"])
    assert str(exc.value) == f'ip: invalid pattern: "{case["pat"]}"'


@pytest.mark.parametrize("case", CASES["label"], ids=lambda c: c["name"])
def test_label_cases(case):
    pred = ip_label_filter("addr", case["op"] == "!=", compile_ip(case["pat"]), "__error__")
    assert pred({"addr": case["value"]}) is case["expected"]


def test_label_value_with_lone_surrogates():
    pred = ip_label_filter("addr", False, compile_ip("10.0.0.1"), "__error__")
    assert pred({"addr": "\ud800 10.0.0.1 \udcff"}) is True


def test_label_filter_missing_label_and_errors():
    for negate in (False, True):
        pred = ip_label_filter("addr", negate, compile_ip("10.0.0.1"), "__error__")
        assert pred({"other": "10.0.0.1"}) is False  # no label: fails for = and != alike
        assert pred({"__error__": "JSONParserErr"}) is True  # errored entries pass


def test_mask_with_hints_across_line_boundaries():
    # "1" ends one line and ".2.3.4" starts the next: a hint spanning two lines finds nothing,
    # and the scan still sees the address in the line after it
    lines = [b"a 1", b".2.3.4", b"x", b"at 1.2.3.4"]
    assert np.nonzero(ip_mask(_columns(lines), compile_ip("1.2.3.4")))[0].tolist() == [3]
    assert ip_mask(_columns([]), compile_ip("1.2.3.4")).tolist() == []


LINES = [
    b"level=info addr=192.168.0.5 msg=ok",
    b"level=warn addr=10.1.2.3 msg=slow",
    b"level=error addr=2001:db8::7 msg=fail",
    b"level=info addr=none msg=local",
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    db = Database.open(str(tmp_path_factory.mktemp("ip") / "d"), StorageOptions(), background=False)
    db.append(logs=[LogBatch(labels_from({"job": "ip"}), [T + i for i in range(4)], LINES)])
    yield Engine(db)
    db.close()


def _lines(engine: Engine, q: str) -> list[str]:
    res = render_query_result(engine.query_range(q, T - S, T + S, S, limit=100))["data"]["result"]
    return sorted(v[1] for s in res for v in s["values"])


def _want(*idx: int) -> list[str]:
    return sorted(LINES[i].decode() for i in idx)


@pytest.mark.parametrize(
    "q,want",
    [
        ('{job="ip"} |= ip("192.168.0.0/16")', (0,)),
        ('{job="ip"} != ip("192.168.0.0/16")', (1, 2, 3)),
        ('{job="ip"} |= ip("10.0.0.0-10.255.255.255")', (1,)),
        ('{job="ip"} |= ip("2001:db8::/32")', (2,)),
        ('{job="ip"} |= "local" or ip("2001:db8::/32")', (2, 3)),
        ('{job="ip"} |= ip("10.1.2.3") or ip("192.168.0.5")', (0, 1)),
        ('{job="ip"} != ip("10.1.2.3") or ip("192.168.0.5")', (2, 3)),
        ('{job="ip"} |= "level" |= ip("10.1.2.3")', (1,)),
        ('{job="ip"} | logfmt |= ip("10.1.2.3")', (1,)),  # after a parser: the per-line path
        ('{job="ip"} | logfmt | addr = ip("192.168.0.0/16")', (0,)),
        ('{job="ip"} | logfmt | addr != ip("192.168.0.0/16")', (1, 2, 3)),
        ('{job="ip"} | logfmt | addr = ip("10.1.2.3") or addr = ip("2001:db8::7")', (1, 2)),
        ('{job="ip"} | logfmt | addr = ip("10.0.0.0/8"), level = "warn"', (1,)),
        ('{job="ip"} | logfmt | addr = ip("10.0.0.0/8") and level = "info"', ()),
        ('{job="ip"} | logfmt | nosuch != ip("10.0.0.0/8")', ()),
    ],
)
def test_queries(engine, q, want):
    assert _lines(engine, q) == _want(*want)


def test_metric_query_with_ip_filter(engine):
    res = engine.query_instant('sum(count_over_time({job="ip"} |= ip("10.0.0.0/8") [1m]))', T + S)
    assert [s["value"][1] for s in render_query_result(res)["data"]["result"]] == ["1"]


@pytest.mark.parametrize(
    "q,msg",
    [
        ('{job="ip"} |= ip("10.0.0.1 - 10.0.0.2")', 'ip: invalid pattern: "10.0.0.1 - 10.0.0.2"'),
        ('{job="ip"} | logfmt | addr = ip("nope")', 'ip: invalid pattern: "nope"'),
        ('{job="ip"} |~ ip("10.0.0.1")', "ip: invalid operation"),
        ('{job="ip"} |~ "x" or ip("10.0.0.1")', "ip: invalid operation"),
    ],
)
def test_query_errors(engine, q, msg):
    with pytest.raises(QueryError) as exc:
        engine.query_range(q, T - S, T + S, S, limit=10)
    assert str(exc.value) == msg


@pytest.mark.parametrize("op", CASES["label_bad_ops"])
def test_ip_label_filter_only_with_equality(engine, op):
    with pytest.raises(ParseError):
        engine.query_range(f'{{job="ip"}} | logfmt | addr {op} ip("10.0.0.1")', T - S, T + S, S, limit=10)
