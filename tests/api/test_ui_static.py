"""The web UI's files as the server serves them: caching, deep links, and a missing build."""

from __future__ import annotations

from pathlib import Path

import httpx

from serverproc import start_server

FIXTURE = Path(__file__).parent / "ui_fixture"


def test_ui_routes_serve_index_with_no_cache_and_assets_for_a_year(tmp_path: Path) -> None:
    s = start_server(tmp_path / "data", "--ui-dir", str(FIXTURE))
    try:
        with httpx.Client(base_url=s.url, timeout=10) as c:
            for path in ("/", "/logs", "/logs?query=%7Bapp%3D%22x%22%7D", "/status", "/logs/deep/link"):
                r = c.get(path)
                assert r.status_code == 200, path
                assert "fixture UI" in r.text
                assert r.headers["cache-control"] == "no-cache"
                assert r.headers["content-type"].startswith("text/html")
            r = c.get("/assets/app-abc123.js")
            assert r.status_code == 200
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.headers["content-type"].startswith("text/javascript")
            # Text assets go gzipped to clients that take it, as they are counted for size.
            raw = httpx.get(
                s.url + "/assets/app-abc123.js", headers={"Accept-Encoding": "gzip"}
            )  # httpx decodes: compare content to the file, and the header to gzip
            assert raw.headers["content-encoding"] == "gzip"
            assert raw.content == (FIXTURE / "assets" / "app-abc123.js").read_bytes()
            plain = httpx.get(s.url + "/assets/app-abc123.js", headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers
            assert plain.content == raw.content
            # Unknown assets, paths outside the UI's routes, and escapes from the build are 404s.
            assert c.get("/assets/missing-0000.js").status_code == 404
            assert c.get("/nothing-here").status_code == 404
            assert c.get("/assets/..%2F..%2Fapi%2Ftest_ui_static.py").status_code == 404
            # The APIs are not shadowed by the UI.
            assert c.get("/loki/api/v1/labels").json()["status"] == "success"
            assert c.get("/-/healthy").status_code == 200
    finally:
        assert s.stop() == 0, s.log()


def test_missing_build_explains_how_to_build_and_apis_still_work(tmp_path: Path) -> None:
    empty = tmp_path / "ui"
    empty.mkdir()
    (empty / "index.html").write_text("<p>placeholder</p>")
    s = start_server(tmp_path / "data", "--ui-dir", str(empty))
    try:
        (empty / "index.html").unlink()  # the build vanished after start (e.g. a cleaned tree)
        with httpx.Client(base_url=s.url, timeout=10) as c:
            r = c.get("/logs")
            assert r.status_code == 200
            assert "web UI is not built" in r.text
            assert "npm ci &amp;&amp; npm run build" in r.text
            assert c.get("/loki/api/v1/labels").status_code == 200
    finally:
        assert s.stop() == 0, s.log()


def test_ui_dir_without_a_build_is_refused_at_start(tmp_path: Path) -> None:
    from heron.config import ConfigError, load_settings

    try:
        load_settings(None, {}, {"ui_dir": str(tmp_path)})
    except ConfigError as e:
        assert "no index.html" in str(e)
    else:
        raise AssertionError("an empty ui_dir was accepted")
