"""The scrape loop against real HTTP targets on 127.0.0.1: samples, synthetic series,
staleness, limits, honor_*, relabeling, auth headers and failures that store nothing.

Each test drives one target's loop directly (`loop.scrape(due)`), so nothing waits on the
scheduler's clock; `test_scrape_manager.py` covers scheduling, reloads and shutdown.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from heron import __version__
from heron.collect.metrics.exposition import ACCEPT_HEADER
from heron.collect.metrics.metadata import MetadataStore, MetricMetadata
from heron.collect.metrics.scrape import default_discoverers
from heron.collect.metrics.scrapeloop import ScrapeLoop, ScrapeMetrics
from heron.collect.metrics.scrapepool import ScrapePool
from heron.model import Matcher, MatchOp, is_stale_nan
from heron.promconfig import Authorization, BasicAuth, RelabelConfig, ScrapeConfig, StaticConfig
from heron.selfmetrics import Registry
from heron.storage import Database, SampleColumns, StorageOptions
from scrapetarget import Response, Target

BODY = b"""# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 1027
http_requests_total{code="500",method="get"} 3
# HELP temperature_celsius The temperature.
# TYPE temperature_celsius gauge
temperature_celsius 21.5
"""


class Sink:
    def __init__(self) -> None:
        self.calls: list[SampleColumns] = []

    def __call__(self, columns: SampleColumns) -> None:
        self.calls.append(columns)

    def last(self) -> list[tuple[dict[str, str], int, float]]:
        c = self.calls[-1]
        return [(dict(lab), int(t), float(v)) for lab, t, v in zip(c.labels, c.timestamps, c.values)]

    def by_name(self, name: str, call: int = -1) -> list[tuple[dict[str, str], int, float]]:
        c = self.calls[call]
        return [
            (dict(lab), int(t), float(v))
            for lab, t, v in zip(c.labels, c.timestamps, c.values)
            if dict(lab)["__name__"] == name
        ]

    def report(self, call: int = -1) -> dict[str, float]:
        names = (
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        )
        out = {}
        for name in names:
            rows = self.by_name(name, call)
            assert len(rows) == 1, (name, rows)
            out[name] = rows[0][2]
        return out


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target(Response(BODY))
    yield t
    t.close()


def config(target: Target, **kw: Any) -> ScrapeConfig:
    kw.setdefault("job_name", "app")
    kw.setdefault("scrape_interval", 15.0)
    kw.setdefault("scrape_timeout", 10.0)
    return ScrapeConfig(static_configs=(StaticConfig(targets=(target.address,)),), **kw)


_OPEN: list[ScrapePool] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    """Every loop keeps its target connection open between scrapes; close them after a test."""
    yield
    while _OPEN:
        for loop in _OPEN.pop().stop_loops():
            loop.stop_quietly()


class Harness:
    def __init__(self, cfg: ScrapeConfig, registry: Registry | None = None):
        self.sink = Sink()
        self.metadata = MetadataStore()
        self.registry = registry or Registry()
        self.pool = ScrapePool(
            cfg, default_discoverers(cfg), self.sink, ScrapeMetrics(self.registry), self.metadata
        )
        self.started, _ = self.pool.sync(self.pool.groups())
        _OPEN.append(self.pool)

    @property
    def loop(self) -> ScrapeLoop:
        assert len(self.pool.loops) == 1
        return next(iter(self.pool.loops.values()))

    def scrape(self, due: float | None = None) -> int:
        """One scrape; returns its timestamp in ms (the slot when started within 2 ms)."""
        due = time.time() if due is None else due
        n = len(self.sink.calls)
        self.loop.scrape(due)
        assert len(self.sink.calls) == n + 1, "one sink call per scrape"
        return int(self.sink.calls[-1].timestamps[-1])


def test_a_scrape_stores_samples_with_target_labels_and_the_synthetic_series(target: Target) -> None:
    h = Harness(config(target))
    ts = h.scrape()
    rows = h.sink.by_name("http_requests_total")
    want_target = {"job": "app", "instance": target.address}
    assert sorted((r[0]["code"], r[2]) for r in rows) == [("200", 1027.0), ("500", 3.0)]
    for labels, t, _ in rows:
        assert {k: labels[k] for k in ("job", "instance")} == want_target
        assert t == ts
    assert h.sink.by_name("temperature_celsius")[0][0] == {"__name__": "temperature_celsius", **want_target}
    report = h.sink.report()
    assert report["up"] == 1.0
    assert report["scrape_samples_scraped"] == 3
    assert report["scrape_samples_post_metric_relabeling"] == 3
    assert report["scrape_series_added"] == 3
    assert 0 < report["scrape_duration_seconds"] < 10
    for labels, t, _ in h.sink.by_name("up"):
        assert labels == {"__name__": "up", **want_target} and t == ts
    # The second scrape adds no series; the cache answers every lookup.
    h.scrape()
    assert h.sink.report()["scrape_series_added"] == 0
    assert h.loop.health == "up" and h.loop.last_error == ""
    assert h.loop.last_scrape_ns > 0


def test_request_headers_are_prometheus_ones(target: Target) -> None:
    h = Harness(config(target, scrape_timeout=7.5, params={"module": ("http_2xx",), "x": ("a b",)}))
    h.scrape()
    req = target.requests[-1]
    assert req.headers["Accept"] == ACCEPT_HEADER
    assert req.headers["Accept-Encoding"] == "gzip"
    assert req.headers["User-Agent"] == f"Heron/{__version__}"
    assert req.headers["X-Prometheus-Scrape-Timeout-Seconds"] == "7.5"
    assert req.path == "/metrics?module=http_2xx&x=a+b"


def test_metadata_is_kept_per_target_and_in_the_shared_store(target: Target) -> None:
    h = Harness(config(target))
    h.scrape()
    assert h.loop.metadata["http_requests_total"] == MetricMetadata("counter", "Requests served.", "")
    assert h.metadata.query("temperature_celsius") == {
        "temperature_celsius": [MetricMetadata("gauge", "The temperature.", "")]
    }


def test_a_vanished_series_gets_a_staleness_marker_at_the_scrape_time(target: Target) -> None:
    h = Harness(config(target))
    h.scrape()
    target.response = Response(b'http_requests_total{code="200",method="get"} 1030\n')
    ts = h.scrape()
    stale = [r for r in h.sink.last() if math.isnan(r[2])]
    assert sorted(r[0].get("code", r[0]["__name__"]) for r in stale) == ["500", "temperature_celsius"]
    assert all(is_stale_nan(r[2]) and r[1] == ts for r in stale)
    # Marked once: the next scrape does not repeat them.
    h.scrape()
    assert not [r for r in h.sink.last() if math.isnan(r[2])]


def test_explicit_timestamps_are_honoured_and_not_marked_stale(target: Target) -> None:
    target.response = Response(b"with_ts 1 1700000000000\nwithout_ts 2\n")
    h = Harness(config(target))
    ts = h.scrape()
    assert h.sink.by_name("with_ts")[0][1] == 1700000000000
    assert h.sink.by_name("without_ts")[0][1] == ts
    target.response = Response(b"other 3\n")
    h.scrape()
    stale = {r[0]["__name__"] for r in h.sink.last() if math.isnan(r[2])}
    assert stale == {"without_ts"}


def test_honor_timestamps_false_uses_the_scrape_time(target: Target) -> None:
    target.response = Response(b"with_ts 1 1700000000000\n")
    h = Harness(config(target, honor_timestamps=False))
    ts = h.scrape()
    assert h.sink.by_name("with_ts")[0][1] == ts


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (Response(b"oops", status=500), "server returned HTTP status 500 Internal Server Error"),
        (Response(b"metric{ 1\n"), "line 1"),
    ],
    ids=["http-500", "parse-error"],
)
def test_a_failed_scrape_stores_nothing_from_the_body_and_marks_all_stale(
    target: Target, response: Response, error: str
) -> None:
    h = Harness(config(target))
    h.scrape()
    target.response = response
    ts = h.scrape()
    rows = h.sink.last()
    body_rows = [r for r in rows if not r[0]["__name__"].startswith(("up", "scrape_"))]
    assert len(body_rows) == 3 and all(is_stale_nan(r[2]) and r[1] == ts for r in body_rows)
    report = h.sink.report()
    assert report["up"] == 0.0
    assert report["scrape_samples_scraped"] == 0
    assert report["scrape_series_added"] == 0
    assert error in h.loop.last_error
    assert h.loop.health == "down"
    # Recovery: the series come back, nothing is marked twice.
    target.response = Response(BODY)
    h.scrape()
    assert h.sink.report()["up"] == 1.0
    assert not [r for r in h.sink.last() if math.isnan(r[2])]


def test_sample_limit_fails_the_whole_scrape_and_reports_the_counts(target: Target) -> None:
    h = Harness(config(target, sample_limit=2))
    h.scrape()
    assert [r for r in h.sink.last() if r[0]["__name__"] == "http_requests_total"] == []
    report = h.sink.report()
    assert report["up"] == 0.0
    assert report["scrape_samples_scraped"] == 3
    assert report["scrape_samples_post_metric_relabeling"] == 3
    assert h.loop.last_error == "sample limit exceeded"
    # Within the limit after metric relabeling, the same body passes.
    drop = RelabelConfig(source_labels=("__name__",), regex="temperature_celsius", action="drop")
    h2 = Harness(config(target, sample_limit=2, metric_relabel_configs=(drop,)))
    h2.scrape()
    assert h2.sink.report()["up"] == 1.0
    assert h2.sink.report()["scrape_samples_post_metric_relabeling"] == 2


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        (
            {"label_limit": 3},
            "label_limit exceeded (metric: http_requests_total, number of labels: 5, limit: 3)",
        ),
        (
            {"label_name_length_limit": 5},
            "label_name_length_limit exceeded (metric: http_requests_total, label name: __name__, "
            "length: 8, limit: 5)",
        ),
        (
            {"label_value_length_limit": 5},
            "label_value_length_limit exceeded (metric: http_requests_total, label name: __name__, "
            'value: "http_requests_total", length: 19, limit: 5)',
        ),
    ],
    ids=["label_limit", "name_length", "value_length"],
)
def test_label_limits_fail_the_scrape_with_prometheus_messages(
    target: Target, limits: dict[str, int], error: str
) -> None:
    target.response = Response(b'http_requests_total{code="200",method="get"} 1\n')
    h = Harness(config(target, **limits))
    h.scrape()
    assert h.loop.last_error == error
    assert h.sink.report()["up"] == 0.0
    assert not h.sink.by_name("http_requests_total")


def test_body_size_limit_aborts_the_read(target: Target) -> None:
    big = b"".join(b"metric_%d 1\n" % i for i in range(20000))
    target.response = Response(big)
    h = Harness(config(target, body_size_limit=10_000))
    h.scrape()
    assert h.loop.last_error == "body size limit exceeded"
    assert h.sink.report()["up"] == 0.0
    # The limit is on the decompressed body: a small gzip that inflates past it fails too.
    target.response = Response(big, gzip=True)
    h.scrape()
    assert h.loop.last_error == "body size limit exceeded"
    # A body under the limit passes, compressed or not.
    target.response = Response(BODY, gzip=True)
    h.scrape()
    assert h.sink.report()["up"] == 1.0


def test_a_slow_target_times_out(target: Target) -> None:
    target.response = Response(BODY, delay=2.0)
    h = Harness(config(target, scrape_interval=15.0, scrape_timeout=0.3))
    h.scrape()
    url = f"http://{target.address}/metrics"
    assert h.loop.last_error == f'Get "{url}": context deadline exceeded'
    assert h.sink.report()["up"] == 0.0


def test_an_unreachable_target_is_down(tmp_path: Path) -> None:
    t = Target(Response(BODY))
    address = t.address
    t.close()
    cfg = ScrapeConfig(job_name="gone", static_configs=(StaticConfig(targets=(address,)),))
    h = Harness(cfg)
    h.scrape()
    assert h.loop.health == "down"
    assert h.loop.last_error.startswith(f'Get "http://{address}/metrics": ')
    assert "refused" in h.loop.last_error


def test_honor_labels(target: Target) -> None:
    target.response = Response(b'm{job="exposed",instance="x",exported_job="e"} 1\n')
    h = Harness(config(target))
    h.scrape()
    labels = h.sink.by_name("m")[0][0]
    assert labels["job"] == "app" and labels["instance"] == target.address
    assert labels["exported_instance"] == "x"
    # `exported_job` is taken by the exposed series, so the clash moves one prefix further.
    assert labels["exported_job"] == "e" and labels["exported_exported_job"] == "exposed"
    h2 = Harness(config(target, honor_labels=True))
    h2.scrape()
    labels = h2.sink.by_name("m")[0][0]
    assert labels["job"] == "exposed" and labels["instance"] == "x" and labels["exported_job"] == "e"
    assert "exported_instance" not in labels
    # The synthetic series always carry the target's own labels.
    assert h2.sink.by_name("up")[0][0]["job"] == "app"


def test_metric_relabel_configs_rewrite_and_drop(target: Target) -> None:
    rules = (
        RelabelConfig(source_labels=("__name__",), regex="temperature_.*", action="drop"),
        RelabelConfig(source_labels=("code",), regex="(5).*", target_label="class", replacement="${1}xx"),
        RelabelConfig(regex="method", action="labeldrop"),
    )
    h = Harness(config(target, metric_relabel_configs=rules))
    h.scrape()
    assert not h.sink.by_name("temperature_celsius")
    rows = {r[0]["code"]: r[0] for r in h.sink.by_name("http_requests_total")}
    assert rows["500"]["class"] == "5xx" and "class" not in rows["200"]
    assert all("method" not in r for r in rows.values())
    report = h.sink.report()
    assert report["scrape_samples_scraped"] == 3
    assert report["scrape_samples_post_metric_relabeling"] == 2
    assert report["scrape_series_added"] == 2
    # A dropped series never goes stale (it was never stored).
    target.response = Response(b'http_requests_total{code="200",method="get"} 1\n')
    h.scrape()
    stale = [r[0] for r in h.sink.last() if math.isnan(r[2])]
    assert [s.get("code") for s in stale] == ["500"]


def test_relabel_configs_make_target_labels_and_drop_targets(target: Target) -> None:
    rules = (
        RelabelConfig(source_labels=("__address__",), regex=".*:(\\d+)", target_label="port"),
        RelabelConfig(source_labels=("env",), regex="skip", action="drop"),
    )
    cfg = ScrapeConfig(
        job_name="app",
        static_configs=(
            StaticConfig(targets=(target.address,), labels={"env": "prod"}),
            StaticConfig(targets=("127.0.0.1:1",), labels={"env": "skip"}),
        ),
        relabel_configs=rules,
    )
    h = Harness(cfg)
    h.scrape()
    port = target.address.rsplit(":", 1)[1]
    labels = h.sink.by_name("temperature_celsius")[0][0]
    assert labels["port"] == port and labels["env"] == "prod"
    assert h.pool.dropped == [
        {
            "__address__": "127.0.0.1:1",
            "__metrics_path__": "/metrics",
            "__scheme__": "http",
            "__scrape_interval__": "1m",
            "__scrape_timeout__": "10s",
            "env": "skip",
            "job": "app",
        }
    ]


def test_basic_auth_and_authorization_headers(target: Target, tmp_path: Path) -> None:
    h = Harness(config(target, basic_auth=BasicAuth("user", "pass")))
    h.scrape()
    assert target.requests[-1].headers["Authorization"] == "Basic dXNlcjpwYXNz"
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    h = Harness(config(target, authorization=Authorization("Bearer", credentials_file=str(token))))
    h.scrape()
    assert target.requests[-1].headers["Authorization"] == "Bearer s3cret"
    token.write_text("rotated")  # read at every scrape, as Prometheus does
    h.scrape()
    assert target.requests[-1].headers["Authorization"] == "Bearer rotated"
    token.unlink()
    h.scrape()
    assert h.loop.last_error.startswith("unable to read authorization credentials file")


def test_a_sink_that_fails_is_counted_and_the_loop_goes_on(target: Target) -> None:
    registry = Registry()
    cfg = config(target)
    calls: list[int] = []

    def sink(columns: SampleColumns) -> None:
        calls.append(len(columns.labels))
        raise OSError("disk full")

    pool = ScrapePool(cfg, default_discoverers(cfg), sink, ScrapeMetrics(registry), None)
    pool.sync(pool.groups())
    _OPEN.append(pool)
    loop = next(iter(pool.loops.values()))
    loop.scrape(time.time())
    loop.scrape(time.time())
    assert len(calls) == 2
    assert 'heron_scrape_sink_errors_total{pool="app"} 2' in registry.render()


def test_scrape_counters_on_the_registry(target: Target) -> None:
    registry = Registry()
    h = Harness(config(target), registry)
    h.scrape()
    target.response = Response(b"", status=503)
    h.scrape()
    text = registry.render()
    assert 'heron_scrape_samples_scraped_total{pool="app"} 3' in text
    assert 'heron_scrapes_total{pool="app"} 2' in text
    assert 'heron_scrape_errors_total{pool="app",reason="http"} 1' in text


def test_the_alignment_tolerance_is_prometheus_2ms(target: Target) -> None:
    h = Harness(config(target))
    loop = h.loop
    due = 1_700_000_000.0
    assert loop._timestamp(due, due + 0.0015) == due
    assert loop._timestamp(due + 15, due + 15.001) == due + 15
    assert loop._timestamp(due + 30, due + 30.5) == due + 30.5  # late: the real start time
    assert loop._timestamp(due + 45, due + 45.0) == due + 45


def test_stale_marks_every_series_and_the_synthetic_ones(target: Target) -> None:
    h = Harness(config(target))
    h.scrape()
    h.loop.stale()
    rows = h.sink.last()
    assert len(rows) == 3 + 5
    assert all(is_stale_nan(v) for _, _, v in rows)
    n = len(h.sink.calls)
    h.loop.scrape(time.time())  # a stopped loop never scrapes again
    assert len(h.sink.calls) == n


def test_staleness_markers_keep_the_nan_payload(target: Target) -> None:
    h = Harness(config(target))
    h.scrape()
    target.response = Response(b"")
    h.scrape()
    vals = np.asarray(h.sink.calls[-1].values)
    bits = vals.view(np.uint64)
    assert int(np.count_nonzero(bits == np.uint64(0x7FF0000000000002))) == 3


def test_storage_refs_are_kept_and_renewed_after_a_head_cut(target: Target, tmp_path: Path) -> None:
    """With the database's `series_refs`, scrapes carry refs from the scrape cache; a head cut
    makes them stale, and the next scrape makes them again. Every sample is stored either way."""
    db = Database.open(str(tmp_path / "db"), StorageOptions(), background=False)
    try:
        cfg = config(target)
        refs_seen: list[np.ndarray] = []

        def sink(columns: SampleColumns) -> None:
            assert columns.refs is not None
            refs_seen.append(np.asarray(columns.refs))
            result = db.append(columns=columns)
            assert not result.rejected, result.rejected

        pool = ScrapePool(
            cfg, default_discoverers(cfg), sink, ScrapeMetrics(Registry()), None, db.series_refs
        )
        pool.sync(pool.groups())
        _OPEN.append(pool)
        (loop,) = pool.loops.values()
        base = time.time()
        loop.scrape(base)
        loop.scrape(base + 15)
        assert (refs_seen[0][:3] >= 0).all() and (refs_seen[0][:3] == refs_seen[1][:3]).all()
        db.flush()  # a head cut: the old refs are stale
        loop.scrape(base + 30)
        loop.scrape(base + 45)
        assert (refs_seen[2][:3] >= 0).all() and not (refs_seen[2][:3] == refs_seen[1][:3]).any()
        assert (refs_seen[3][:3] == refs_seen[2][:3]).all()
        found = db.query_samples([Matcher("__name__", MatchOp.EQ, "temperature_celsius")], 0, 2**62)
        ((_, ts, vs),) = found
        assert len(ts) == 4 and list(vs) == [21.5] * 4
    finally:
        db.close()


def test_the_cache_forgets_series_a_target_stopped_exposing(target: Target) -> None:
    target.response = Response(b"".join(b"old_%d 1\n" % i for i in range(3000)))
    h = Harness(config(target))
    h.scrape()
    assert len(h.loop.cache) == 3000
    target.response = Response(b"new_a 1\nnew_b 2\n")
    h.scrape()
    assert sum(1 for r in h.sink.last() if is_stale_nan(r[2])) == 3000
    assert len(h.loop.cache) == 2  # bounded: only what this scrape had
    h.scrape()
    assert not [r for r in h.sink.last() if math.isnan(r[2])]
    target.response = Response(b"old_1 5\nnew_a 1\n")
    h.scrape()
    assert h.sink.report()["scrape_series_added"] == 1
    assert [r[0]["__name__"] for r in h.sink.last() if is_stale_nan(r[2])] == ["new_b"]


def test_label_pairs_are_shared_between_series(target: Target) -> None:
    """One object per (name, value) pair in a target's cache: the memory a series costs."""
    target.response = Response(b'a{mode="user",cpu="0"} 1\na{mode="user",cpu="1"} 2\nb{mode="user"} 3\n')
    h = Harness(config(target))
    h.scrape()
    body = [lab for lab in h.sink.calls[-1].labels if dict(lab)["__name__"] in ("a", "b")]
    assert len(body) == 3
    for name in ("mode", "job", "instance"):
        pairs = [next(p for p in lab if p[0] == name) for lab in body]
        assert all(p is pairs[0] for p in pairs), name


def test_a_bug_while_scraping_marks_the_target_down_and_the_loop_goes_on(target: Target) -> None:
    h = Harness(config(target))
    h.scrape()

    def broken(body: bytes, content_type: str | None, known: object) -> object:
        raise RuntimeError("boom")

    h.loop._parse = broken
    h.scrape()
    assert h.loop.health == "down" and h.loop.last_error == "internal error: RuntimeError: boom"
    assert h.sink.report()["up"] == 0.0
    assert sum(1 for r in h.sink.last() if is_stale_nan(r[2])) == 3


def test_redirects_are_followed_unless_configured_not_to(target: Target) -> None:
    target.paths["/metrics"] = Response(b"", status=302, headers={"Location": "/real/metrics"})
    h = Harness(config(target))
    h.scrape()
    assert h.loop.health == "up", h.loop.last_error
    assert [r.path for r in target.requests[-2:]] == ["/metrics", "/real/metrics"]
    h = Harness(config(target, follow_redirects=False))
    h.scrape()
    assert h.loop.last_error == "server returned HTTP status 302 Found"
