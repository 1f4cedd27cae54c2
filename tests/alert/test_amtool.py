"""The real `amtool` (Debian's prometheus-alertmanager) against a real Watchkeeper as its
Alertmanager: alerts added and queried, silences added, imported, queried and expired, the
configuration shown and its routing tree drawn. Skips without amtool (fails in CI)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support import require_binary
from tests.test_server_process import Server

pytestmark = pytest.mark.services

HANDLING = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "routes": [{"matchers": ['team="amtool"'], "receiver": "amtool-team"}],
    },
    "receivers": [{"name": "default"}, {"name": "amtool-team"}],
}


@pytest.fixture(scope="module")
def amtool(stack_server: Server, stack_key: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    binary = require_binary("amtool")
    folder = tmp_path_factory.mktemp("amtool")
    http_config = folder / "http.yml"
    http_config.write_text(yaml.safe_dump({"authorization": {"credentials": stack_key}}))
    with httpx.Client(timeout=30) as client:
        response = client.put(
            f"{stack_server.url}/api/v1/alerting/config",
            content=yaml.safe_dump(HANDLING),
            headers={"Authorization": f"Bearer {stack_key}", "content-type": "application/yaml"},
        )
    assert response.status_code == 200, response.text

    def run(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [
                binary,
                f"--alertmanager.url={stack_server.url}/",
                f"--http.config.file={http_config}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )
        assert result.returncode == 0, f"amtool {' '.join(args)}: {result.stderr}{result.stdout}"
        return result.stdout

    return run


def _query(amtool: Any, *args: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = json.loads(amtool("alert", "query", "-o", "json", *args))
    return alerts


def test_amtool_adds_and_queries_alerts_and_silences(amtool: Any, tmp_path: Path) -> None:
    amtool(
        "alert",
        "add",
        "alertname=AmtoolDown",
        "team=amtool",
        "instance=a",
        "--annotation=summary=down",
    )
    amtool("alert", "add", "alertname=AmtoolDown", "team=amtool", "instance=b")
    found = _query(amtool, "alertname=AmtoolDown")
    assert sorted(a["labels"]["instance"] for a in found) == ["a", "b"]
    assert all(a["receivers"] == [{"name": "amtool-team"}] for a in found)
    assert all(a["status"]["state"] == "active" for a in found)

    silence_id = amtool(
        "silence",
        "add",
        "alertname=AmtoolDown",
        "instance=a",
        "-c",
        "maintenance",
        "-a",
        "ops",
    ).strip()
    assert silence_id
    active = _query(amtool, "alertname=AmtoolDown")  # amtool hides silenced ones by default
    assert [a["labels"]["instance"] for a in active] == ["b"]
    silenced = _query(amtool, "--silenced", "alertname=AmtoolDown")
    both = {a["labels"]["instance"]: a["status"] for a in silenced}
    assert both["a"]["silencedBy"] == [silence_id] and both["a"]["state"] == "suppressed"

    exported = amtool("silence", "query", "-o", "json", "alertname=AmtoolDown")
    silences = json.loads(exported)
    assert [s["id"] for s in silences] == [silence_id]
    amtool("silence", "expire", silence_id)
    assert json.loads(amtool("silence", "query", "-o", "json", "alertname=AmtoolDown")) == []
    # Import what was exported: a new silence with the same matchers.
    for silence in silences:
        silence.pop("id")
    imported = tmp_path / "silences.json"
    imported.write_text(json.dumps(silences))
    amtool("silence", "import", str(imported))
    again = json.loads(amtool("silence", "query", "-o", "json", "alertname=AmtoolDown"))
    assert len(again) == 1 and again[0]["comment"] == "maintenance"
    amtool("silence", "expire", again[0]["id"])


def test_amtool_shows_the_configuration_and_its_routes(amtool: Any) -> None:
    shown = amtool("config", "show")
    assert "amtool-team" in shown
    routes = amtool("config", "routes", "show")
    assert "amtool-team" in routes and "default" in routes
    tested = amtool("config", "routes", "test", "team=amtool", "alertname=X")
    assert tested.strip() == "amtool-team"
