"""`watchkeeper dashboards export`: provisioning files Grafana reads, and the push through
Grafana's HTTP API to a real local receiver, through the outbound guard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import yaml

from tests.receivers import HttpReceiver, Received, Reply
from tests.support import local_outbound
from watchkeeper.dashboards import BUILTIN, provisioning
from watchkeeper.dashboards.service import builtin_model
from watchkeeper.notify.outbound import OutboundPolicy


def _grafana_saves(request: Received) -> Reply:
    """Grafana's answer to POST /api/dashboards/db."""
    uid = request.json()["dashboard"]["uid"]
    answer = json.dumps({"status": "success", "uid": uid, "url": f"/d/{uid}"}).encode()
    return Reply(200, answer, headers={"Content-Type": "application/json"})


@pytest.fixture
def grafana() -> Iterator[HttpReceiver]:
    with HttpReceiver(respond=_grafana_saves) as running:
        yield running


def test_export_writes_datasource_provider_and_dashboards(tmp_path: Path) -> None:
    models = {uid: builtin_model(uid) for uid in BUILTIN}
    provisioning.write_provisioning(tmp_path, models, url="http://wk:8000/")
    source = yaml.safe_load((tmp_path / "datasources" / "watchkeeper.yaml").read_text())
    ds = source["datasources"][0]
    assert (ds["uid"], ds["type"], ds["url"]) == ("watchkeeper", "prometheus", "http://wk:8000")
    assert ds["jsonData"]["httpHeaderName1"] == "X-API-Key"
    assert ds["secureJsonData"]["httpHeaderValue1"] == "${WATCHKEEPER_API_KEY}"  # no secret on disk
    provider = yaml.safe_load((tmp_path / "dashboards" / "watchkeeper.yaml").read_text())
    folder = Path(provider["providers"][0]["options"]["path"])
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(BUILTIN)
    main = json.loads((folder / "watchkeeper-main.json").read_text())
    assert main == models["watchkeeper-main"]


def test_push_posts_each_dashboard_to_grafana(
    grafana: HttpReceiver,
) -> None:
    url, received = grafana.url(""), grafana.requests
    models = {uid: builtin_model(uid) for uid in BUILTIN}
    pushed = anyio.run(
        lambda: provisioning.push(url, "glsa_token", models, policy=local_outbound())
    )
    assert [p.uid for p in pushed] == list(BUILTIN)
    assert [p.url for p in pushed] == [f"/d/{uid}" for uid in BUILTIN]
    path, headers, body = received[0].path, received[0].headers, received[0].json()
    assert path == "/api/dashboards/db"
    assert headers["authorization"] == "Bearer glsa_token"
    assert body["overwrite"] is True
    assert body["dashboard"]["uid"] == "watchkeeper-main"
    assert body["dashboard"]["panels"] == models["watchkeeper-main"]["panels"]


def test_push_to_a_loopback_grafana_is_refused_unless_allowed(
    grafana: HttpReceiver,
) -> None:
    url, received = grafana.url(""), grafana.requests
    models = {"watchkeeper-main": builtin_model("watchkeeper-main")}
    with pytest.raises(provisioning.PushError, match="refused"):
        anyio.run(lambda: provisioning.push(url, "t", models, policy=OutboundPolicy()))
    assert received == []
