"""The web UI's static files, served from the package (or `ui_dir`) under `/`.

Vite names every asset after its content hash, so assets are cached for a year; index.html
is `no-cache`, so a new build reaches browsers at once. The UI's own routes (`/logs`,
`/status`, and paths under them) all answer index.html, which lets deep links and reloads
work; the client-side router picks the page. When no build is present (a `pip install` on a
machine without node), `/` explains how to build one; the APIs work either way.
"""

from __future__ import annotations

import html
import mimetypes
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["UI_PAGES", "packaged_ui_dir", "routes"]

# The client-side router's pages (ui/src/pages.ts; later pages add themselves to both lists).
# Each answers index.html, as do paths under it; anything else that is not an API or an asset
# is a 404. `/` is the overview.
UI_PAGES = ("logs", "status")

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


def _index(request: Request) -> Response:
    root = _ui_dir(request)
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(
            _MISSING.format(where=html.escape(str(root))), headers={"Cache-Control": NO_CACHE}
        )
    return FileResponse(index, media_type="text/html; charset=utf-8", headers={"Cache-Control": NO_CACHE})


async def index(request: Request) -> Response:
    return _index(request)


def _static(request: Request, relative: str, cache: str) -> Response:
    root = _ui_dir(request).resolve()
    target = (root / relative).resolve()
    # resolve() folds `..` and symlinks: anything that lands outside the build is not ours.
    if not target.is_relative_to(root) or not target.is_file():
        return PlainTextResponse("not found\n", status_code=404)
    return FileResponse(target, headers={"Cache-Control": cache})


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
