"""/docs (Swagger UI) and /redoc served with their assets from this process, never a CDN.

The JavaScript and CSS come from the `fastapi-offline` package (Swagger UI: Apache-2.0,
ReDoc: MIT, the package: MIT); `static/swagger-init.js` starts Swagger UI from a file so that
no page needs an inline script. Offline installations get working docs; the pages fetch only
from this origin, which the Content-Security-Policy enforces.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/static"


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Add /docs, /redoc and their assets under /docs/static.

    The pages read the app from the request, never from this closure: FastAPI keeps every
    endpoint function in module-level caches (`fastapi.dependencies.models`, 4,096 entries),
    so a closure over `app` kept each app built in a process, with its whole context, alive.
    """
    app.mount(
        ASSETS,
        StaticFiles(packages=[("watchkeeper.api", "static"), ("fastapi_offline", "static")]),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = escape(request.scope.get("root_path", ""))
        title = escape(f"{request.app.title} - Swagger UI")
        return HTMLResponse(
            f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">
<link rel="icon" href="{root}{ASSETS}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{root}{ASSETS}/swagger-init.js" data-openapi-url="{root}{escape(openapi_url)}"></script>
</body>
</html>
"""
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
