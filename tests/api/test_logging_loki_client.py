"""A real client nobody here wrote: python-logging-loki's handler pushes, query_range reads back."""

from __future__ import annotations

import logging
import time

import httpx
import logging_loki

from serverproc import ServerProc


def test_python_logging_loki_handler_roundtrip(server: ServerProc) -> None:
    handler = logging_loki.LokiHandler(
        url=server.url + "/loki/api/v1/push", tags={"application": "heron-test"}, version="1"
    )
    logger = logging.getLogger("heron-loki-client-test")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("something broke", extra={"tags": {"service": "checkout"}})
        logger.warning("disk almost full")
    finally:
        logger.removeHandler(handler)
        handler.close()
    with httpx.Client(base_url=server.url, timeout=30) as c:
        deadline = time.monotonic() + 10
        while True:
            r = c.get(
                "/loki/api/v1/query_range", params={"query": '{application="heron-test"}', "since": "10m"}
            )
            assert r.status_code == 200, r.text
            result = r.json()["data"]["result"]
            if len(result) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    by_line = {v[1]: s["stream"] for s in result for v in s["values"]}
    assert set(by_line) == {"something broke", "disk almost full"}
    assert by_line["something broke"]["service"] == "checkout"
    assert by_line["something broke"]["severity"] == "error"
    assert by_line["disk almost full"]["severity"] == "warning"
    assert all(s["application"] == "heron-test" for s in by_line.values())
