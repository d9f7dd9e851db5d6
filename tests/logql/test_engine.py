"""LogQL engine against a brute-force reference in plain Python, over the same generated data.

Lines are rendered from structured records (JSON or logfmt), so the reference knows every
field without parsing; it filters and counts with plain loops. The engine runs over a real
Database (WAL, head and blocks: half the data is flushed into blocks first).
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from dataclasses import dataclass

import numpy as np
import pytest

from heron.logql.engine import Engine
from heron.logql.result import QueryError, QueryLimitError, QueryTimeoutError, ResultType
from heron.logql.syntax import ParseError
from heron.model import labels_from
from heron.storage import Database, Direction, LogBatch, StorageOptions

S = 1_000_000_000
T0 = (time.time_ns() // S - 1800) * S  # half an hour ago, whole second
SPAN = 600 * S  # ten minutes of data
LEVELS = ["info", "info", "info", "warn", "error"]


@dataclass
class Rec:
    labels: dict[str, str]
    ts: int
    fmt: str
    level: str
    status: int
    latency_ms: int
    size: int
    user: str

    @property
    def line(self) -> str:
        fields = {
            "level": self.level,
            "status": self.status,
            "latency": f"{self.latency_ms}ms",
            "size": f"{self.size}B",
            "user": self.user,
            "msg": f"request by {self.user}",
        }
        if self.fmt == "json":
            return json.dumps(fields, separators=(",", ":"))
        return " ".join(f'{k}="{v}"' if " " in str(v) else f"{k}={v}" for k, v in fields.items())


def _records() -> list[Rec]:
    rng = random.Random(42)
    recs = []
    streams = [
        {"app": "api", "namespace": "prod", "pod": "api-1"},
        {"app": "api", "namespace": "prod", "pod": "api-2"},
        {"app": "web", "namespace": "prod", "pod": "web-1"},
        {"app": "worker", "namespace": "dev", "pod": "worker-1"},
    ]
    for si, lbs in enumerate(streams):
        fmt = "json" if si % 2 == 0 else "logfmt"
        t = T0
        for _ in range(600):
            t += rng.randrange(1, 2 * S)
            if t >= T0 + SPAN:
                break
            level = rng.choice(LEVELS)
            status = 500 if level == "error" else rng.choice([200, 200, 201, 404])
            recs.append(
                Rec(
                    lbs,
                    t,
                    fmt,
                    level,
                    status,
                    rng.randrange(1, 1000),
                    rng.randrange(10, 5000),
                    f"u{rng.randrange(5)}",
                )
            )
    return recs


RECS = _records()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("logql") / "data")
    db = Database.open(path, StorageOptions(), background=False)
    by_stream: dict[tuple, list[Rec]] = {}
    for r in RECS:
        by_stream.setdefault(tuple(sorted(r.labels.items())), []).append(r)
    for half in (0, 1):
        batches = []
        for key, recs in by_stream.items():
            part = recs[: len(recs) // 2] if half == 0 else recs[len(recs) // 2 :]
            batches.append(
                LogBatch(labels_from(dict(key)), [r.ts for r in part], [r.line.encode() for r in part])
            )
        db.append(logs=batches)
        if half == 0:
            db.flush()  # first half in a block, second half in the head
    yield Engine(db, max_series=50, max_entries=5000)
    db.close()


def log_query(
    engine: Engine, q: str, limit: int = 5000, direction=Direction.FORWARD, start=T0, end=T0 + SPAN + S
):
    res = engine.query_range(q, start, end, S, limit=limit, direction=direction)
    assert res.result_type is ResultType.STREAMS
    out = []
    for st in res.streams:
        out += [(t, line, tuple(sorted(st.labels.items()))) for t, line in zip(st.timestamps, st.lines)]
    out.sort(key=lambda e: e[0], reverse=direction is Direction.BACKWARD)
    return out


def ref_lines(pred, recs=RECS) -> list[tuple[int, str]]:
    return sorted((r.ts, r.line) for r in recs if pred(r))


def got_lines(entries) -> list[tuple[int, str]]:
    return sorted((t, line) for t, line, _ in entries)


# -- log queries -------------------------------------------------------------------------
LOG_CASES = [
    ('{app="api"}', lambda r: r.labels["app"] == "api"),
    (
        '{namespace="prod", app!="api"}',
        lambda r: r.labels["namespace"] == "prod" and r.labels["app"] != "api",
    ),
    ('{app=~"api|web"}', lambda r: r.labels["app"] in ("api", "web")),
    ('{app!~"a.*", namespace=~".+"}', lambda r: not r.labels["app"].startswith("a")),
    ('{namespace="prod"} |= "error"', lambda r: r.labels["namespace"] == "prod" and "error" in r.line),
    ('{namespace="prod"} != "error"', lambda r: r.labels["namespace"] == "prod" and "error" not in r.line),
    ('{namespace=~".+"} |~ "status.{1,3}5\\\\d\\\\d"', lambda r: r.status >= 500),
    ('{namespace=~".+"} !~ "u[0-2]"', lambda r: r.user not in ("u0", "u1", "u2")),
    ('{namespace=~".+"} |= "u1" or "u2"', lambda r: r.user in ("u1", "u2")),
    ('{namespace=~".+"} |= "u1" |= "warn"', lambda r: r.user == "u1" and r.level == "warn"),
    ('{app="web"} | json | level="error"', lambda r: r.labels["app"] == "web" and r.level == "error"),
    ('{app="worker"} | logfmt | status >= 404', lambda r: r.labels["app"] == "worker" and r.status >= 404),
    # A line that failed to parse has no `latency`: a numeric filter drops it (label_filter.go).
    ('{namespace=~".+"} | json | latency > 500ms', lambda r: r.fmt == "json" and r.latency_ms > 500),
    (
        '{namespace=~".+"} | json | __error__="" | latency > 500ms',
        lambda r: r.fmt == "json" and r.latency_ms > 500,
    ),
    (
        '{app="api"} | logfmt | size > 4KB',
        lambda r: r.labels["app"] == "api" and r.fmt == "logfmt" and r.size > 4000,
    ),
    (
        '{app="web"} | json | level="warn" or status==404 and user="u1"',
        lambda r: r.labels["app"] == "web" and (r.level == "warn" or (r.status == 404 and r.user == "u1")),
    ),
    (
        '{app="web"} | json | (level="warn" or status==404) and user="u1"',
        lambda r: r.labels["app"] == "web" and (r.level == "warn" or r.status == 404) and r.user == "u1",
    ),
    (
        '{app="worker"} | regexp "status=(?P<code>\\\\d+)" | code="201"',
        lambda r: r.labels["app"] == "worker" and r.status == 201,
    ),
    (
        '{app="worker"} | pattern "level=<lvl> status=<_> <_>" | lvl=~"warn|error"',
        lambda r: r.labels["app"] == "worker" and r.level in ("warn", "error"),
    ),
]


@pytest.mark.parametrize("query,pred", LOG_CASES, ids=[c[0] for c in LOG_CASES])
def test_log_queries_match_reference(engine, query, pred):
    got = log_query(engine, query)
    assert got_lines(got) == ref_lines(pred)


def test_direction_limit_and_range(engine):
    back = log_query(engine, '{app="api"}', limit=25, direction=Direction.BACKWARD)
    want = sorted(((r.ts, r.line) for r in RECS if r.labels["app"] == "api"), reverse=True)[:25]
    assert [(t, line) for t, line, _ in back] == want
    fwd = log_query(engine, '{app="api"}', limit=10, direction=Direction.FORWARD)
    assert [(t, line) for t, line, _ in fwd] == sorted(
        (r.ts, r.line) for r in RECS if r.labels["app"] == "api"
    )[:10]
    mid_start, mid_end = T0 + 100 * S, T0 + 200 * S
    got = log_query(engine, '{app="web"}', start=mid_start, end=mid_end)
    assert got_lines(got) == ref_lines(lambda r: r.labels["app"] == "web" and mid_start <= r.ts < mid_end)


def test_parsed_labels_line_format_label_format_drop_keep(engine):
    got = log_query(
        engine, '{app="web"} | json | level="error" | line_format "{{.level}} {{.status}} by {{.user}}"'
    )
    want = sorted(
        (r.ts, f"error 500 by {r.user}") for r in RECS if r.labels["app"] == "web" and r.level == "error"
    )
    assert got_lines(got) == want
    assert all(dict(lbs)["level"] == "error" and dict(lbs)["status"] == "500" for _, _, lbs in got)
    got = log_query(engine, '{app="web"} | json | label_format who=user | keep app, who')
    assert {lbs for _, _, lbs in got} == {(("app", "web"), ("who", f"u{i}")) for i in range(5)}
    got = log_query(engine, '{app="web"} | json | drop msg, latency, size, user, status, level, pod')
    assert {lbs for _, _, lbs in got} == {(("app", "web"), ("namespace", "prod"))}


def test_json_errors_are_labelled_and_filterable(engine):
    # logfmt lines are not JSON: Loki marks them with __error__ and keeps them
    got = log_query(engine, '{app="worker"} | json')
    assert got and all(dict(lbs).get("__error__") == "JSONParserErr" for _, _, lbs in got)
    assert log_query(engine, '{app="worker"} | json | __error__=""') == []


# -- metric queries ----------------------------------------------------------------------
def steps_for(start: int, end: int, step: int) -> list[int]:
    return list(range(start, end + 1, step))


def ref_window(pred, t: int, rng: int) -> list[Rec]:
    return [r for r in RECS if pred(r) and t - rng < r.ts <= t]


def matrix(engine: Engine, q: str, start: int, end: int, step: int) -> dict[tuple, dict[int, float]]:
    res = engine.query_range(q, start, end, step)
    assert res.result_type is ResultType.MATRIX, res.result_type
    return {
        tuple(sorted(s.labels.items())): dict(zip(s.timestamps.tolist(), s.values.tolist()))
        for s in res.matrix
    }


START, END, STEP, RNG = T0 + 60 * S, T0 + SPAN, 30 * S, 60 * S


def test_count_over_time_and_rate_per_stream(engine):
    got = matrix(
        engine, '{namespace="prod"} |= "error" [1m]'.join(["count_over_time(", ")"]), START, END, STEP
    )
    for lbs_key in got:
        lbs = dict(lbs_key)
        for t in steps_for(START, END, STEP):
            n = len(ref_window(lambda r, lbs=lbs: r.labels == lbs and "error" in r.line, t, RNG))
            assert got[lbs_key].get(t, 0) == n
    got = matrix(engine, 'rate({app="api"}[1m])', START, END, STEP)
    assert len(got) == 2
    for lbs_key, pts in got.items():
        lbs = dict(lbs_key)
        for t, v in pts.items():
            assert v == pytest.approx(len(ref_window(lambda r, lbs=lbs: r.labels == lbs, t, RNG)) / 60)


def test_sum_by_and_bytes(engine):
    got = matrix(engine, 'sum by (app) (count_over_time({namespace="prod"}[1m]))', START, END, STEP)
    assert set(got) == {(("app", "api"),), (("app", "web"),)}
    for key, pts in got.items():
        app = dict(key)["app"]
        for t in steps_for(START, END, STEP):
            assert pts.get(t, 0) == len(ref_window(lambda r, app=app: r.labels["app"] == app, t, RNG))
    got = matrix(engine, 'sum(bytes_over_time({app="web"}[1m]))', START, END, STEP)
    for t, v in got[()].items():
        assert v == sum(len(r.line.encode()) for r in ref_window(lambda r: r.labels["app"] == "web", t, RNG))


def test_unwrap_aggregations(engine):
    sel = '{app="web"} | json | unwrap status'
    pred = lambda r: r.labels["app"] == "web"  # noqa: E731
    got = matrix(engine, f"sum by (app) (sum_over_time({sel} [1m]))", START, END, STEP)
    for t in steps_for(START, END, STEP):
        xs = [float(r.status) for r in ref_window(pred, t, RNG)]
        assert got[(("app", "web"),)].get(t) == (sum(xs) if xs else None)
    for fn, ref in [
        ("avg_over_time", lambda xs: sum(xs) / len(xs)),
        ("max_over_time", max),
        ("min_over_time", min),
        ("stdvar_over_time", statistics.pvariance),
    ]:
        got = matrix(engine, f"{fn}({sel} [1m]) by (app)", START, END, STEP)
        assert list(got) == [(("app", "web"),)], fn
        for t in steps_for(START, END, STEP):
            xs = [float(r.status) for r in ref_window(pred, t, RNG)]
            if xs:
                assert got[(("app", "web"),)][t] == pytest.approx(ref(xs)), (fn, t)
            else:
                assert t not in got[(("app", "web"),)]
    got = matrix(
        engine,
        'quantile_over_time(0.5, {app="web"} | json | unwrap duration(latency) [1m]) by (app)',
        START,
        END,
        STEP,
    )
    for t, v in got[(("app", "web"),)].items():
        xs = sorted(r.latency_ms / 1000 for r in ref_window(pred, t, RNG))
        assert v == pytest.approx(float(np.quantile(xs, 0.5)))


def test_topk_binops_offset_and_absent(engine):
    got = matrix(engine, 'topk(1, sum by (pod) (count_over_time({app="api"}[10m])))', END, END, STEP)
    counts = {
        p: len(ref_window(lambda r, p=p: r.labels["pod"] == p, END, 600 * S)) for p in ("api-1", "api-2")
    }
    best = max(counts, key=counts.get)
    assert list(got) == [(("pod", best),)]
    got = matrix(engine, 'sum(count_over_time({app="api"}[1m])) / 60 * 2 + 1', START, END, STEP)
    for t, v in got[()].items():
        assert v == pytest.approx(len(ref_window(lambda r: r.labels["app"] == "api", t, RNG)) / 60 * 2 + 1)
    got = matrix(
        engine,
        'sum by (app) (count_over_time({app="api"} |= "error" [1m]))'
        ' / sum by (app) (count_over_time({app="api"}[1m]))',
        START,
        END,
        STEP,
    )
    for t, v in got[(("app", "api"),)].items():
        win = ref_window(lambda r: r.labels["app"] == "api", t, RNG)
        assert v == pytest.approx(sum(1 for r in win if "error" in r.line) / len(win))
    got = matrix(engine, 'sum(count_over_time({app="api"}[1m])) > bool 40', START, END, STEP)
    for t, v in got[()].items():
        assert v == float(len(ref_window(lambda r: r.labels["app"] == "api", t, RNG)) > 40)
    got = matrix(engine, 'sum(count_over_time({app="api"}[1m] offset 2m))', START + 120 * S, END, STEP)
    for t, v in got[()].items():
        assert v == len(ref_window(lambda r: r.labels["app"] == "api", t - 120 * S, RNG))
    after = T0 + SPAN + 300 * S
    got = matrix(engine, 'absent_over_time({app="api"}[1m])', T0 + SPAN - 60 * S, after, STEP)
    assert list(got) == [(("app", "api"),)]
    assert all(t > T0 + SPAN - S for t in got[(("app", "api"),)])


def test_instant_query_vector_and_scalar(engine):
    res = engine.query_instant('count_over_time({app="web"}[10m])', END)
    assert res.result_type is ResultType.VECTOR
    assert res.vector[0].value == len(ref_window(lambda r: r.labels["app"] == "web", END, 600 * S))
    res = engine.query_instant("1 + 2", END)
    assert res.result_type is ResultType.SCALAR and res.scalar == (END, 3.0)
    with pytest.raises(QueryError, match="instant query"):
        engine.query_instant('{app="web"}', END)


def test_errors_and_limits(engine):
    with pytest.raises(ParseError, match="parse error at line 1, col"):
        engine.query_range('{app="web"', START, END, STEP)
    with pytest.raises(QueryError, match="pipeline error: 'JSONParserErr'"):
        engine.query_range('count_over_time({app="worker"} | json [1m])', START, END, STEP)
    with pytest.raises(QueryLimitError, match="max entries limit"):
        engine.query_range('{app="web"}', START, END, STEP, limit=6000)
    small = Engine(engine.db, max_series=1)
    with pytest.raises(QueryLimitError, match="maximum number of series"):
        small.query_range('count_over_time({app="api"}[1m])', START, END, STEP)
    with pytest.raises(QueryTimeoutError):
        engine.query_range('{app="web"}', START, END, STEP, deadline=time.monotonic() - 1)


def test_stats_count_work(engine):
    res = engine.query_range('{app="web"} |= "error"', T0, T0 + SPAN + S, S, limit=5000)
    n = sum(1 for r in RECS if r.labels["app"] == "web")
    assert res.stats.lines_processed == n
    assert res.stats.post_filter_lines == sum(
        1 for r in RECS if r.labels["app"] == "web" and "error" in r.line
    )
    assert res.stats.bytes_processed == sum(len(r.line.encode()) for r in RECS if r.labels["app"] == "web")
    assert math.isclose(res.stats.entries_returned, res.stats.post_filter_lines)


def test_template_errors_mark_entries_instead_of_failing(engine):
    got = log_query(engine, '{app="web"} | line_format "{{ eq .app 200 }}"')
    assert got and all(dict(lbs).get("__error__") == "TemplateFormatErr" for _, _, lbs in got)
    assert log_query(engine, '{app="web"} | line_format "{{ eq .app 200 }}" | __error__=""') == []


def test_bad_ip_patterns_are_query_errors(engine):
    # ip() filters themselves are tested in test_ipfilter.py
    with pytest.raises(QueryError, match='ip: invalid pattern: "10.0.0.0/80"'):
        engine.query_range('{app="web"} |= ip("10.0.0.0/80")', START, END, STEP)
    with pytest.raises(QueryError, match='ip: invalid pattern: "x"'):
        engine.query_range('{app="web"} | logfmt | addr = ip("x")', START, END, STEP)


def test_bad_template_is_a_query_error(engine):
    with pytest.raises(QueryError):
        engine.query_range('{app="web"} | line_format "{{ .app "', START, END, STEP)
