"""Our Alertmanager-format webhook body against the real Alertmanager: same keys, same
fingerprint, for the same alert. Skips without the binary (unless services are required)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.receivers import HttpReceiver
from tests.support import free_port, require_binary, wait_for_port
from watchkeeper.alert.model import fingerprint as label_fingerprint
from watchkeeper.notify.base import RenderedMessage
from watchkeeper.notify.webhook import alertmanager_payload

pytestmark = pytest.mark.services

LABELS = {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"}


@pytest.fixture
def alertmanager(receiver: HttpReceiver, tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "hook",
                    "group_by": ["alertname"],
                    "group_wait": "100ms",
                    "group_interval": "1s",
                },
                "receivers": [{"name": "hook", "webhook_configs": [{"url": receiver.url()}]}],
            }
        )
    )
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=15)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_body_and_fingerprint_match_alertmanager(alertmanager: str, receiver: HttpReceiver) -> None:
    alert = {"labels": LABELS, "annotations": {"summary": "disk full"}}
    httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.requests, "Alertmanager did not call the webhook"
    theirs = json.loads(receiver.requests[0].body)
    variables = {
        "alerts": [
            {
                "labels": LABELS,
                "annotations": {"summary": "disk full"},
                "starts_at": theirs["alerts"][0]["startsAt"],
                "status": "firing",
            }
        ],
        "external_url": theirs["externalURL"],
    }

    ours = alertmanager_payload(
        RenderedMessage(subject="", text="", variables=variables), receiver="hook"
    )

    assert theirs["alerts"][0]["fingerprint"] == label_fingerprint(LABELS)
    assert ours == theirs
