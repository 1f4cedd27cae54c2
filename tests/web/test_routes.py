"""The console's HTTP routes in-process: redirects, the shell, versioned static files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from watchkeeper.api.errors import install_error_handlers
from watchkeeper.web.routes import STATIC_DIR, build_id, install_web


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    install_web(app)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_root_and_prometheus_graph_links_redirect_into_the_console(client: TestClient) -> None:
    assert client.get("/").headers["location"] == "/ui/"
    graph = client.get("/graph", params={"g0.expr": 'rate(x{job="a"}[5m]) > 1', "g0.tab": "1"})
    assert graph.status_code == 307
    assert graph.headers["location"] == (
        "/ui/explore?expr=rate%28x%7Bjob%3D%22a%22%7D%5B5m%5D%29+%3E+1"
    )
    assert client.get("/graph").headers["location"] == "/ui/explore"


def test_an_oversized_graph_expression_is_refused_with_a_message(client: TestClient) -> None:
    response = client.get("/graph", params={"g0.expr": "x" * 20_000})
    assert response.status_code == 400
    assert "longer than 16384" in response.json()["error"]["message"]


def test_every_client_route_gets_the_shell_naming_every_module(client: TestClient) -> None:
    build = build_id()
    for path in ("/ui", "/ui/", "/ui/explore", "/ui/rules?new=up", "/ui/a/b/c"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert f'<meta name="wk-build" content="{build}">' in response.text
    shell = client.get("/ui/").text
    assert "{{" not in shell
    for module in ("app.js", "api.js", "pages/index.js", "pages/overview.js"):
        assert f'<link rel="modulepreload" href="/ui/static/{build}/{module}">' in shell
    assert "<script>" not in shell and "style=" not in shell  # the CSP allows neither


def test_the_build_id_changes_with_any_static_file(tmp_path: Path) -> None:
    root = tmp_path
    (root / "a.js").write_text("one")
    first = build_id(root)
    (root / "a.js").write_text("two")
    assert build_id(root) != first
    assert build_id(STATIC_DIR) == build_id()
