"""Routes of the web console: `/` and `/graph` redirects, the HTML shell, static assets.

Assets are served under `/ui/static/<build>/...`, where `<build>` is a hash of every static
file computed at start-up: a browser may cache them for a year (`immutable`), and a new
release changes the prefix. ES modules import each other by relative paths, so the prefix
carries through the whole module graph without a bundler. A request with a stale build id
still gets the current file, with `no-cache`, so a tab open across an upgrade keeps working.
"""

from __future__ import annotations

import hashlib
import os
from html import escape
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from watchkeeper.api.errors import ApiError

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/ui"
STATIC_PREFIX = f"{PREFIX}/static"
IMMUTABLE = "public, max-age=31536000, immutable"
# The shell itself must be revalidated: it names the current build.
SHELL_CACHE = "no-cache"
MAX_EXPR_CHARS = 16_384


def build_id(root: Path = STATIC_DIR) -> str:
    """A short hash over the names and contents of every static file."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class VersionedStatic(StaticFiles):
    """StaticFiles whose first path segment is the build id (ETag and 304s from Starlette)."""

    def __init__(self, *, directory: Path, build: str) -> None:
        super().__init__(directory=directory)
        self.build = build

    def get_path(self, scope: Scope) -> str:
        path = super().get_path(scope)
        head, _, rest = path.partition(os.sep)
        scope["watchkeeper.current_build"] = head == self.build
        return rest

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        current = scope.get("watchkeeper.current_build", False)
        response.headers["cache-control"] = IMMUTABLE if current else SHELL_CACHE
        return response


def _preloads(root_path: str, build: str) -> str:
    """`<link rel="modulepreload">` for every module: the browser fetches the whole module
    graph at once instead of discovering it import by import (one round trip, not four)."""
    modules = sorted(
        p.relative_to(STATIC_DIR).as_posix()
        for p in STATIC_DIR.rglob("*.js")
        if p.parent.name != "vendor"
    )
    return "\n".join(
        f'<link rel="modulepreload" href="{escape(root_path)}{STATIC_PREFIX}/{build}/{escape(m)}">'
        for m in modules
    )


def _shell(root_path: str, build: str) -> str:
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return (
        template.replace("{{preload}}", _preloads(root_path, build))
        .replace("{{root}}", escape(root_path))
        .replace("{{build}}", escape(build))
    )


def make_router(build: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    shells: dict[str, str] = {}

    def shell(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", ""))
        if root not in shells:
            shells[root] = _shell(root, build)
        return HTMLResponse(shells[root], headers={"cache-control": SHELL_CACHE})

    @router.get("/")
    def home(request: Request) -> RedirectResponse:
        """Operators type the bare address: send them to the console."""
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}{PREFIX}/", status_code=307)

    @router.get("/graph")
    def graph(request: Request) -> RedirectResponse:
        """Prometheus-style links (`/graph?g0.expr=...`, what alert rules generate) open
        Explore with the same query."""
        root = request.scope.get("root_path", "")
        expr = request.query_params.get("g0.expr", "")
        if len(expr) > MAX_EXPR_CHARS:
            raise ApiError(400, f"g0.expr is longer than {MAX_EXPR_CHARS} characters")
        query = {"expr": expr} if expr else {}
        span = request.query_params.get("g0.range_input", "")
        if span and len(span) <= 16:
            query["range"] = span
        suffix = f"?{urlencode(query)}" if query else ""
        return RedirectResponse(f"{root}{PREFIX}/explore{suffix}", status_code=307)

    @router.get(PREFIX)
    @router.get(PREFIX + "/")
    def index(request: Request) -> HTMLResponse:
        return shell(request)

    @router.get(PREFIX + "/{path:path}")
    def client_route(path: str, request: Request) -> HTMLResponse:
        """Every client route (`/ui/alerts`, `/ui/explore?...`) gets the same shell; the
        router in app.js picks the page."""
        return shell(request)

    return router


def install_web(app: FastAPI) -> None:
    """Mount the static assets, then the shell routes (the mount must match first)."""
    build = build_id()
    app.mount(STATIC_PREFIX, VersionedStatic(directory=STATIC_DIR, build=build), name="web")
    app.include_router(make_router(build))
