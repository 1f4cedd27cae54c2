"""The OpenAPI document: declares the two credentials every protected route accepts."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Routes anyone may call; every other operation requires one of the two schemes.
PUBLIC = {
    ("/auth/login", "post"),
    ("/auth/refresh", "post"),
    ("/health/live", "get"),
    ("/health/ready", "get"),
    ("/metrics", "get"),
}


def install_openapi(app: FastAPI) -> None:
    def schema() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        spec.setdefault("components", {})["securitySchemes"] = {
            "HTTPBearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An access token from POST /auth/login, or an API key",
            },
            "APIKeyHeader": {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "An API key",
            },
        }
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if (path, method) not in PUBLIC:
                    operation["security"] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
        app.openapi_schema = spec
        return spec

    app.openapi = schema  # type: ignore[method-assign]
