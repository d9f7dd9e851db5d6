"""Scraping over HTTPS: a real TLS server on 127.0.0.1 with `trustme` certificates, for every
`tls_config` key the scraper honours (CA file or inline, client certificates, server_name,
insecure_skip_verify)."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme

from heron.collect.metrics.scrape import default_discoverers
from heron.collect.metrics.scrapeloop import ScrapeLoop, ScrapeMetrics
from heron.collect.metrics.scrapepool import ScrapePool
from heron.promconfig import ScrapeConfig, StaticConfig, TLSConfig
from heron.selfmetrics import Registry
from heron.storage import SampleColumns
from scrapetarget import Response, Target

BODY = b"secure_metric 1\n"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def files(ca: trustme.CA, tmp_path: Path) -> dict[str, str]:
    client = ca.issue_cert("scraper@heron.test")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "client.pem", "key": tmp_path / "client.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    return {k: str(v) for k, v in paths.items()}


def _server(ca: trustme.CA, require_client_cert: bool) -> Target:
    cert = ca.issue_cert("heron.test")  # not 127.0.0.1: verification needs server_name
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(ctx)
    return Target(Response(BODY), ssl_context=ctx)


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[Target]:
    t = _server(ca, require_client_cert=False)
    yield t
    t.close()


@pytest.fixture
def mtls_server(ca: trustme.CA) -> Iterator[Target]:
    t = _server(ca, require_client_cert=True)
    yield t
    t.close()


def scrape(target: Target, **tls: Any) -> ScrapeLoop:
    cfg = ScrapeConfig(
        job_name="tls",
        scheme="https",
        scrape_timeout=5.0,
        tls_config=TLSConfig(**tls),
        static_configs=(StaticConfig(targets=(target.address,)),),
    )
    calls: list[SampleColumns] = []
    pool = ScrapePool(cfg, default_discoverers(cfg), calls.append, ScrapeMetrics(Registry()), None)
    pool.sync(pool.groups())
    (loop,) = pool.loops.values()
    loop.scrape(time.time())
    loop.stop_quietly()
    if loop.health == "up":
        assert [dict(lab)["__name__"] for lab in calls[-1].labels][0] == "secure_metric"
    return loop


def test_ca_file_and_server_name(server: Target, files: dict[str, str]) -> None:
    loop = scrape(server, ca_file=files["ca"], server_name="heron.test")
    assert loop.health == "up", loop.last_error
    assert loop.target.url.startswith("https://127.0.0.1:")


def test_inline_ca(server: Target, ca: trustme.CA) -> None:
    loop = scrape(server, ca=ca.cert_pem.bytes().decode(), server_name="heron.test")
    assert loop.health == "up", loop.last_error


def test_the_wrong_name_fails_verification(server: Target, files: dict[str, str]) -> None:
    loop = scrape(server, ca_file=files["ca"])
    assert loop.health == "down"
    assert "certificate" in loop.last_error.lower() or "ip address mismatch" in loop.last_error.lower()


def test_an_unknown_ca_fails_and_insecure_skip_verify_passes(server: Target) -> None:
    loop = scrape(server)
    assert loop.health == "down" and "certificate verify failed" in loop.last_error
    loop = scrape(server, insecure_skip_verify=True)
    assert loop.health == "up", loop.last_error


def test_client_certificate(mtls_server: Target, files: dict[str, str]) -> None:
    without = scrape(mtls_server, ca_file=files["ca"], server_name="heron.test")
    assert without.health == "down"
    loop = scrape(
        mtls_server,
        ca_file=files["ca"],
        server_name="heron.test",
        cert_file=files["cert"],
        key_file=files["key"],
    )
    assert loop.health == "up", loop.last_error


def test_an_unreadable_ca_file_fails_every_https_target(server: Target, tmp_path: Path) -> None:
    loop = scrape(server, ca_file=str(tmp_path / "missing.pem"))
    assert loop.health == "down"
    assert loop.last_error.startswith("error creating HTTP client: unable to load TLS configuration")
