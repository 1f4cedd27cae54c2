"""What every HTTP answer carries and what it must not reveal: security headers, docs that
work offline (and are off in production), /metrics without tenant ids for anonymous
callers, and owner-only files."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from tests.support import ADMIN_PASSWORD
from watchkeeper.clock import ManualClock
from watchkeeper.domain.series import SeriesSamples, labels_from_dict

AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[AppFactory]:
    """A running app over SQLite with `config` merged into the generated config file."""
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import deep_merge, load_settings

    clients: list[TestClient] = []
    clock = ManualClock(start=time.time())

    def make(config: dict[str, Any] | None = None, profile: str = "dev") -> TestClient:
        data = tmp_path / f"data{len(clients)}"
        result = initialise(data, clock=clock, admin_password=ADMIN_PASSWORD, profile=profile)
        merged = deep_merge(
            yaml.safe_load(result.config_file.read_text()),
            {
                "observability": {"access_log": False},
                "metrics": {"host_collector_enabled": False},
                **(config or {}),
            },
        )
        result.config_file.write_text(yaml.safe_dump(merged))
        settings = load_settings(result.config_file)
        client = TestClient(create_app(settings, clock=clock, config_file=result.config_file))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _login(client: TestClient) -> dict[str, str]:
    response = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


REQUIRED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
CSP_DIRECTIVES = (
    "default-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
)


def _assert_secure(headers: Any) -> None:
    for name, value in REQUIRED.items():
        assert headers.get(name) == value, name
    csp = headers.get("content-security-policy", "")
    for directive in CSP_DIRECTIVES:
        assert directive in csp


def test_every_kind_of_response_carries_the_security_headers(make_client: AppFactory) -> None:
    client = make_client()
    auth = _login(client)
    client.get("/system/status", headers=auth)  # fill the status cache: the hot path answers
    answers = [
        client.get("/health/live"),  # answered before routing (api/hotpath.py)
        client.get("/system/status", headers=auth),
        client.get("/api/v1/rules", headers=auth),
        client.get("/api/v1/rules"),  # 401
        client.get("/no/such/route"),  # 404
        client.post("/api/v1/ingest", headers=auth, content=b"x" * (33 * 1024 * 1024)),  # 413
        client.get("/docs"),
    ]
    for response in answers:
        _assert_secure(response.headers)
        # Plain HTTP without a declared TLS proxy: no HSTS (browsers ignore it anyway).
        assert "strict-transport-security" not in response.headers


def test_hsts_is_sent_behind_a_declared_tls_proxy(make_client: AppFactory) -> None:
    client = make_client({"security": {"tls_proxy": True}})
    response = client.get("/health/live")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    _assert_secure(response.headers)


def test_docs_load_every_asset_from_this_server(make_client: AppFactory) -> None:
    client = make_client()
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
        assert "<script>" not in html.text  # no inline script: the CSP allows none
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 0
    bundle = client.get("/docs/static/swagger-ui-bundle.js")
    assert len(bundle.content) > 500_000  # the real Swagger UI, not a stub
    assert client.get("/openapi.json").status_code == 200


def test_docs_are_off_by_default_in_production(make_client: AppFactory) -> None:
    client = make_client({"security": {"tls_proxy": True}}, profile="production")
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 404
    on = make_client({"security": {"tls_proxy": True}, "api": {"docs_enabled": True}}, "production")
    assert on.get("/docs").status_code == 200


def _store_a_sample(client: TestClient, auth: dict[str, str]) -> str:
    from watchkeeper.ingest.remote_write import encode

    body = encode(
        [
            SeriesSamples(
                labels_from_dict({"__name__": "surface_probe"}),
                np.array([int(time.time() * 1000)], np.int64),
                np.array([1.0]),
            )
        ]
    )
    assert client.post("/api/v1/write", content=body, headers=auth).status_code == 204
    from watchkeeper.tenancy import service

    context = client.app.state.context  # type: ignore[attr-defined]
    with context.sessions.system("test") as db:
        tenant_id: str = service.find_tenant(db, "default").id
    return tenant_id


def test_anonymous_metrics_show_series_totals_without_tenant_ids(make_client: AppFactory) -> None:
    client = make_client()
    auth = _login(client)
    tenant_id = _store_a_sample(client, auth)

    anonymous = client.get("/metrics")
    assert anonymous.status_code == 200
    assert tenant_id not in anonymous.text
    assert re.search(r"^watchkeeper_tenant_series \d", anonymous.text, re.M)

    operator = client.get("/metrics", headers=auth)  # admin of `init` is a superadmin
    assert f'watchkeeper_tenant_series{{tenant="{tenant_id}"}}' in operator.text


def test_metrics_token_mode_needs_the_scrape_token_or_a_credential(
    make_client: AppFactory,
) -> None:
    token = "scrape-token-0123456789abcdef"
    client = make_client({"observability": {"metrics_auth": "token", "metrics_token": token}})
    auth = _login(client)
    tenant_id = _store_a_sample(client, auth)

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200 and tenant_id in scraped.text

    key = client.post("/api/v1/apikeys", headers=auth, json={"name": "m", "scopes": ["read"]})
    assert key.status_code == 201, key.text
    tenant_key = client.get("/metrics", headers={"X-API-Key": key.json()["key"]})
    assert tenant_key.status_code == 200 and tenant_id not in tenant_key.text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_the_data_folder_and_its_files_owner_only(tmp_path: Path) -> None:
    from watchkeeper.bootstrap import initialise

    result = initialise(
        tmp_path / "data", clock=ManualClock(start=time.time()), admin_password=ADMIN_PASSWORD
    )
    assert _mode(tmp_path / "data") == 0o700
    assert _mode(result.config_file) == 0o600
    assert _mode(tmp_path / "data" / "watchkeeper.db") == 0o600


def test_a_config_change_keeps_the_file_owner_only(tmp_path: Path) -> None:
    from watchkeeper.config import persist_patch

    config = tmp_path / "watchkeeper.yaml"
    config.write_text("profile: dev\n")
    config.chmod(0o600)
    persist_patch(config, {"metrics": {"retention_days": 7}})
    assert _mode(config) == 0o600


def test_start_up_restricts_modes_left_open(tmp_path: Path) -> None:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.runtime.file_modes import secure_data

    result = initialise(
        tmp_path / "data", clock=ManualClock(start=time.time()), admin_password=ADMIN_PASSWORD
    )
    database = tmp_path / "data" / "watchkeeper.db"
    (tmp_path / "data").chmod(0o755)
    database.chmod(0o644)
    changed = secure_data(result.settings, result.config_file)
    assert database in changed
    assert _mode(tmp_path / "data") == 0o700 and _mode(database) == 0o600


def test_an_oversized_error_from_any_handler_is_cut_at_the_edge() -> None:
    """The backstop in the request middleware, for handlers that build their own errors."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from watchkeeper.api.middleware import RequestContextMiddleware

    async def echo(_request: Any) -> JSONResponse:
        return JSONResponse({"error": "x" * 200_000}, status_code=400)

    app = Starlette(routes=[Route("/echo", echo)])
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=lambda _path: 1024,
        access_log=lambda: False,
        audit=lambda _entry: None,  # type: ignore[arg-type]  # never called: every path is exempt
        now=time.time,
        audit_exempt=lambda _path: True,
    )
    with TestClient(app) as client:
        response = client.get("/echo")
    assert response.status_code == 400
    assert len(response.content) <= 64 * 1024
    assert response.json()["error"]["code"] == "error_body_too_large"
