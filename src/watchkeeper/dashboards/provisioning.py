"""Grafana provisioning files for our dashboards, and the push through Grafana's HTTP API.

Written under DIR (Grafana's `paths.provisioning` layout):

    DIR/datasources/watchkeeper.yaml   the Prometheus data source (uid `watchkeeper`) pointing
                                       at Watchkeeper's Prometheus API, sending the API key in
                                       `X-API-Key` (`httpHeaderName1` + secureJsonData); the key
                                       itself is read by Grafana from an environment variable
    DIR/dashboards/watchkeeper.yaml    a file provider for the folder below
    DIR/dashboards/watchkeeper/*.json  one JSON model per dashboard

No secret is written to a file: `$WATCHKEEPER_API_KEY` is expanded by Grafana at start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from watchkeeper.dashboards.panels import DATASOURCE_UID
from watchkeeper.notify.outbound import OutboundPolicy, excerpt, new_session

FOLDER = "Watchkeeper"
PUSH_TIMEOUT_S = 30.0


def datasource_file(url: str, api_key_env: str = "WATCHKEEPER_API_KEY") -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Watchkeeper",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": url.rstrip("/"),
                "isDefault": False,
                "editable": False,
                "jsonData": {
                    "httpMethod": "POST",
                    "httpHeaderName1": "X-API-Key",
                    "timeInterval": "30s",
                },
                "secureJsonData": {"httpHeaderValue1": f"${{{api_key_env}}}"},
            }
        ],
    }


def dashboard_provider_file(folder_path: Path) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "watchkeeper",
                "folder": FOLDER,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "options": {"path": str(folder_path), "foldersFromFilesStructure": False},
            }
        ],
    }


def write_provisioning(
    directory: Path,
    dashboards: Mapping[str, dict[str, Any]],
    *,
    url: str,
    api_key_env: str = "WATCHKEEPER_API_KEY",
    dashboards_path: Path | None = None,
) -> list[Path]:
    """Write the files; `dashboards_path` is where Grafana will see the JSON folder (default:
    where it is written). Returns the paths written."""
    datasources = directory / "datasources"
    providers = directory / "dashboards"
    folder = providers / "watchkeeper"
    for path in (datasources, providers, folder):
        path.mkdir(parents=True, exist_ok=True)
    written = [datasources / "watchkeeper.yaml", providers / "watchkeeper.yaml"]
    written[0].write_text(yaml.safe_dump(datasource_file(url, api_key_env), sort_keys=False))
    written[1].write_text(
        yaml.safe_dump(
            dashboard_provider_file(dashboards_path or folder.resolve()), sort_keys=False
        )
    )
    for uid, model in dashboards.items():
        path = folder / f"{uid}.json"
        path.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


class PushError(Exception):
    """Grafana refused a dashboard or could not be reached; the message says which."""


@dataclass(frozen=True)
class Pushed:
    uid: str
    status: str
    url: str | None


async def push(
    grafana_url: str,
    token: str,
    dashboards: Mapping[str, dict[str, Any]],
    *,
    policy: OutboundPolicy,
    folder_uid: str | None = None,
) -> list[Pushed]:
    """`POST /api/dashboards/db` for each dashboard (overwrite: the definition here wins),
    through the outbound guard."""
    endpoint = grafana_url.rstrip("/") + "/api/dashboards/db"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=PUSH_TIMEOUT_S)
    out = []
    async with new_session(policy, limit=4) as session:
        for uid, model in dashboards.items():
            body: dict[str, Any] = {
                "dashboard": {**model, "id": None},
                "overwrite": True,
                "message": "provisioned by watchkeeper",
            }
            if folder_uid:
                body["folderUid"] = folder_uid
            try:
                async with session.post(
                    endpoint, json=body, headers=headers, timeout=timeout
                ) as response:
                    text = await response.text()
                    if response.status >= 300:
                        raise PushError(
                            f"Grafana answered {response.status} for {uid}: {excerpt(text)}"
                        )
                    answer = json.loads(text) if text else {}
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise PushError(f"could not push {uid} to {endpoint}: {exc}") from None
            out.append(Pushed(uid, str(answer.get("status", "success")), answer.get("url")))
    return out
