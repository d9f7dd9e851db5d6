"""Side by side with a real Prometheus (Debian's 2.42): `/api/v1/format_query` answers every
query of `peer_queries.txt` with either the pretty text (`prettify`) or the parse error, and
Heron's syntax package must give the same text for each.

The file holds only queries in the grammar Prometheus 2.42 and 3 share: 2.42 predates durations
as numbers, duration arithmetic, quoted UTF-8 names and the newer functions, and words some
errors differently; Prometheus 3's own tables (test_promql_parse_table.py) cover those.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heron.promql.syntax import ParseError, parse_expr, prettify
from peers import Peer, start_prometheus

QUERIES = [
    line
    for line in Path(__file__).with_name("peer_queries.txt").read_text().splitlines()
    if line and not line.startswith("# ")
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    peer = start_prometheus(tmp_path_factory.mktemp("prom"), "global:\n  scrape_interval: 1h\n")
    try:
        yield peer
    finally:
        peer.stop()


def _heron(query: str) -> tuple[str, str]:
    try:
        return "ok", prettify(parse_expr(query))
    except ParseError as exc:
        return "err", str(exc)


def test_format_query_matches_prometheus(prometheus: Peer) -> None:
    assert len(QUERIES) >= 500
    mismatches = []
    with httpx.Client(base_url=prometheus.url, timeout=10) as client:
        for query in QUERIES:
            resp = client.get("/api/v1/format_query", params={"query": query})
            body = resp.json()
            if resp.status_code == 200:
                theirs = ("ok", body["data"])
            else:
                theirs = ("err", body["error"].removeprefix('invalid parameter "query": '))
            if _heron(query) != theirs:
                mismatches.append((query, theirs, _heron(query)))
    assert not mismatches, "\n".join(
        f"{q!r}\n  prometheus: {t}\n  heron:      {h}" for q, t, h in mismatches[:20]
    )
    assert sum(1 for q in QUERIES if _heron(q)[0] == "err") >= 300
