"""Watchkeeper behind an existing stack, with the real binaries: a Prometheus whose
`alerting:` section points at Watchkeeper, and an Alertmanager whose webhook receiver does.
Skips without the binaries (unless services are required)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support import free_port, require_binary, wait_for_port
from tests.test_server_process import Server

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def server(stack_server: Server) -> Server:
    """The suite's shared real server (tests/conftest.py): starting one takes seconds."""
    return stack_server


@pytest.fixture(scope="module")
def key(stack_key: str) -> str:
    return stack_key


def _process(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(
    what: str, probe: Callable[[], list[dict[str, Any]]], timeout: float = 20
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _alerts(server: Server, key: str, name: str, state: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/api/v1/alerts",
        headers={"Authorization": f"Bearer {key}"},
        params={"state": state, "filter": f'alertname="{name}"'},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return alerts


def test_real_prometheus_sends_its_firing_alert(server: Server, key: str, tmp_path: Path) -> None:
    binary = require_binary("prometheus")
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "compat",
                        "rules": [
                            {
                                "alert": "AlwaysOn",
                                "expr": "vector(1) > 0",
                                "for": "0s",
                                "labels": {"severity": "warning"},
                                "annotations": {"summary": "from Prometheus"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    config = {
        "global": {"evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "alerting": {
            "alertmanagers": [
                {
                    "api_version": "v2",
                    "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
                    "authorization": {"credentials": key},
                }
            ]
        },
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = _process(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
        ]
    )
    try:
        (alert,) = _wait_for(
            "Prometheus' alert arriving",
            lambda: _alerts(server, key, "AlwaysOn", "firing"),
        )
        assert alert["labels"] == {"alertname": "AlwaysOn", "severity": "warning"}
        assert alert["annotations"] == {"summary": "from Prometheus"}
        theirs = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=10).json()
        (prom_alert,) = theirs["data"]["alerts"]
        assert _seconds(alert["startsAt"]) == pytest.approx(_seconds(prom_alert["activeAt"]), abs=2)
    finally:
        process.terminate()
        process.wait(30)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")[:26] + "+00:00").timestamp()


def test_real_alertmanager_webhook_fires_and_resolves(
    server: Server, key: str, tmp_path: Path
) -> None:
    binary = require_binary("prometheus-alertmanager")
    config = {
        "route": {
            "receiver": "watchkeeper",
            "group_by": ["alertname"],
            "group_wait": "100ms",
            "group_interval": "1s",
        },
        "receivers": [
            {
                "name": "watchkeeper",
                "webhook_configs": [
                    {
                        "url": f"{server.url}/api/v1/alerts/webhook",
                        "http_config": {"authorization": {"credentials": key}},
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = _process(
        [
            binary,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
    )
    labels = {"alertname": "FromAlertmanager", "instance": "db-1"}
    try:
        wait_for_port(port, timeout=15)
        api = f"http://127.0.0.1:{port}/api/v2/alerts"
        httpx.post(api, json=[{"labels": labels}], timeout=5).raise_for_status()
        (alert,) = _wait_for(
            "Alertmanager's firing webhook",
            lambda: _alerts(server, key, labels["alertname"], "firing"),
        )
        assert alert["labels"] == labels

        ended = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        httpx.post(api, json=[{"labels": labels, "endsAt": ended}], timeout=5).raise_for_status()
        (resolved,) = _wait_for(
            "Alertmanager's resolved webhook",
            lambda: _alerts(server, key, labels["alertname"], "resolved"),
        )
        assert resolved["fingerprint"] == alert["fingerprint"]
        assert _alerts(server, key, labels["alertname"], "firing") == []
    finally:
        process.terminate()
        process.wait(30)
