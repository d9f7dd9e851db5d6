"""The web UI's static files, served from the package (or `ui_dir`) under `/`.

Vite names every asset after its content hash, so assets are cached for a year; index.html
is `no-cache`, so a new build reaches browsers at once. The UI's own routes (`/logs`,
`/status`, and paths under them) all answer index.html, which lets deep links and reloads
work; the client-side router picks the page. When no build is present (a `pip install` on a
machine without node), `/` explains how to build one; the APIs work either way.
"""

from __future__ import annotations

import gzip
import html
import mimetypes
import os
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["UI_PAGES", "packaged_ui_dir", "routes"]

# The client-side router's pages (ui/src/pages.ts; later pages add themselves to both lists).
# Each answers index.html, as do paths under it; anything else that is not an API or an asset
# is a 404. `/` is the overview. `/metrics` itself is health.py's (it answers the exposition or,
# to a browser, index.html); the UI's routes here add the paths under it.
UI_PAGES = ("logs", "metrics", "status", "targets")

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("image/svg+xml", ".svg")

_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Heron: UI not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem}}
code,pre{{background:#f3f3f3;padding:2px 4px;border-radius:4px}}pre{{padding:8px}}</style></head>
<body><h1>Heron is running, but its web UI is not built</h1>
<p>This copy of Heron was installed without the UI's assets (looked in <code>{where}</code>),
usually because <code>pip install</code> ran where Node.js was not installed.</p>
<p>The APIs work: for example <a href="/loki/api/v1/labels"><code>/loki/api/v1/labels</code></a>,
<a href="/metrics"><code>/metrics</code></a>, and Grafana's Loki data source pointed at this server.</p>
<p>To get the UI, install Node.js 20 or newer and either reinstall from a source checkout
(<code>pip install .</code> runs the UI build when <code>node</code> is on PATH), or build it in place:</p>
<pre>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>or serve a build from elsewhere with <code>--ui-dir DIR</code>.</p></body></html>
"""


def packaged_ui_dir() -> Path:
    """Where the wheel (or an editable install's source tree) keeps the built UI."""
    return Path(str(resources.files("heron") / "ui"))


def _ui_dir(request: Request) -> Path:
    configured = request.app.state.heron.ui_dir
    return configured if configured is not None else packaged_ui_dir()


# Text assets are sent gzipped to clients that accept it (the first-load budget is counted
# gzipped). Each file is compressed once per build: the cache key holds its mtime and size, and
# the cache is cleared when it would outgrow _GZIP_CACHE_BYTES, so it stays bounded.
_COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".map", ".txt")
_GZIP_MAX_FILE = 8 * 1024 * 1024
_GZIP_CACHE_BYTES = 32 * 1024 * 1024
_gzip_cache: dict[tuple[str, int, int], bytes] = {}


def _gzipped(path: Path, stat: os.stat_result) -> bytes:
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    body = _gzip_cache.get(key)
    if body is None:
        body = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
        if sum(len(b) for b in _gzip_cache.values()) + len(body) > _GZIP_CACHE_BYTES:
            _gzip_cache.clear()
        _gzip_cache[key] = body
    return body


def _file(request: Request, path: Path, cache: str, media_type: str | None = None) -> Response:
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    media_type = media_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    stat = path.stat()
    accepts = "gzip" in request.headers.get("accept-encoding", "")
    if accepts and path.suffix in _COMPRESSIBLE and stat.st_size <= _GZIP_MAX_FILE:
        return Response(
            _gzipped(path, stat), media_type=media_type, headers={**headers, "Content-Encoding": "gzip"}
        )
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)


async def index(request: Request) -> Response:
    root = _ui_dir(request)
    page = root / "index.html"
    if not page.is_file():
        return HTMLResponse(
            _MISSING.format(where=html.escape(str(root))), headers={"Cache-Control": NO_CACHE}
        )
    return _file(request, page, NO_CACHE, "text/html; charset=utf-8")


def _static(request: Request, relative: str, cache: str) -> Response:
    root = _ui_dir(request).resolve()
    target = (root / relative).resolve()
    # resolve() folds `..` and symlinks: anything that lands outside the build is not ours.
    if not target.is_relative_to(root) or not target.is_file():
        return PlainTextResponse("not found\n", status_code=404)
    return _file(request, target, cache)


async def asset(request: Request) -> Response:
    return _static(request, "assets/" + request.path_params["path"], IMMUTABLE)


async def root_file(request: Request) -> Response:
    # Files Vite copies from ui/public keep their names, so they may change under one URL.
    return _static(request, request.path_params["name"], NO_CACHE)


def routes() -> list[BaseRoute]:
    """Registered after every API, so an API path is never shadowed by the UI."""
    pages: list[BaseRoute] = []
    for page in UI_PAGES:
        pages.append(Route(f"/{page}", index, methods=["GET", "HEAD"]))
        pages.append(Route(f"/{page}/{{rest:path}}", index, methods=["GET", "HEAD"]))
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        *pages,
        Route("/assets/{path:path}", asset, methods=["GET", "HEAD"]),
        Route("/{name:str}", root_file, methods=["GET", "HEAD"]),
    ]
