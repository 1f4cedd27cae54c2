"""The Alerts, Incidents and Anomalies pages in a real Chromium against the seeded server:
each renders its data; a silence created from an alert mutes it; an incident is acknowledged
from its page; an anomaly is drawn with its band and explanation and marked by an operator."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
import pytest

from tests.web.conftest import Console, Seeded

OPS_GROUP = """
name: web-ops
interval: 1s
rules:
  - alert: OpsSilenceMe
    expr: vector(3)
    labels: {severity: critical, team: ops}
    annotations: {summary: "an alert the silence test mutes"}
"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
LOAD = {"__name__": "node_load1", "instance": "web-1", "job": "node"}


def _alert(web_server: Seeded, name: str) -> dict[str, Any]:
    with web_server.client() as client:
        answer = client.get("/api/v1/alerts", params={"filter": f'alertname="{name}"'}).json()
    [alert] = answer["data"]["alerts"]
    return alert  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def ops_alert(web_server: Seeded) -> str:
    web_server.put_group(OPS_GROUP)
    web_server.wait_firing("OpsSilenceMe")
    return "OpsSilenceMe"


@pytest.fixture(scope="session")
def anomaly(web_server: Seeded) -> str:
    """One anomaly on the seeded node_load1, recorded the way the detection loop records
    them (explained from the series' history), in the server's own metadata database."""
    from watchkeeper.cli.common import open_db
    from watchkeeper.detect import service
    from watchkeeper.detect.explain import explain
    from watchkeeper.tenancy import service as tenancy

    now = time.time()
    # up to half an hour ago, inside the seeded hour
    t = (now - 1800 - 30 * np.arange(60)[::-1]).astype(np.float64)
    x = 1.0 + 2.0 * ((np.arange(60) % 20) / 20)
    x[-1] = 9.5
    series = 'node_load1{instance="web-1", job="node"}'
    explanation = explain(
        series, t, x, 0.93, ["robust_residual"], 1, attributions={"level": 0.71, "slope": -0.12}
    )
    with open_db(web_server.server.config) as db:
        with db.sessions.system("web test seed") as session:
            tenant_id = tenancy.find_tenant(session, "default").id
        with db.sessions.tenant(tenant_id) as session:
            event = service.NewAnomaly(
                hashlib.sha256(series.encode()).hexdigest(), LOAD, "robust_residual", explanation
            )
            service.record_anomalies(session, [event], now=db.clock.now())
        with db.sessions.tenant(tenant_id) as session:
            return service.list_anomalies(session, limit=1).items[0].id


def test_alerts_page_shows_labels_history_silences_and_the_route_test(console: Console) -> None:
    console.goto("/ui/alerts")
    console.login()
    console.wait_ready("/alerts")
    page = console.page
    row = page.locator("tr.alert-row", has_text="SeedDiskFilling")
    assert "severity=warning" in row.inner_text()
    assert row.get_attribute("data-state") == "firing"
    row.locator("button", has_text="History").click()
    page.wait_for_selector("tr.detail:not([hidden]) .timeline li")
    assert "→ firing" in page.locator("tr.detail:not([hidden]) .timeline").inner_text()
    row.locator("button.route").click()
    page.wait_for_selector("#route-test .route-receiver")
    assert "alertname=SeedDiskFilling" in page.input_value("#route-test textarea")
    result = page.locator("#route-test .route-result").inner_text()
    assert "Would be notified now" in result and "matched" in result
    console.check("alerts")


def test_route_test_reports_bad_labels_inline(console: Console) -> None:
    console.goto("/ui/alerts")
    console.login()
    console.wait_ready("/alerts")
    console.page.fill("#route-test textarea", "no equals sign here")
    console.page.click("#route-test button[type=submit]")
    error = console.page.locator("#route-test .error")
    error.wait_for()
    assert "is not name=value" in error.inner_text()


def test_a_silence_created_from_an_alert_mutes_it_and_expiring_unmutes(
    console: Console, web_server: Seeded, ops_alert: str
) -> None:
    assert _alert(web_server, ops_alert)["status"]["state"] == "active"
    console.goto("/ui/alerts")
    console.login()
    console.wait_ready("/alerts")
    page = console.page
    page.locator("tr.alert-row", has_text=ops_alert).locator("button.silence").click()
    dialog = page.locator("dialog[open]")
    names = dialog.locator("[name=matcher-name]")
    prefilled = {
        names.nth(i).input_value(): dialog.locator("[name=matcher-value]").nth(i).input_value()
        for i in range(names.count())
    }
    assert prefilled == {"alertname": ops_alert, "team": "ops"}  # severity left out
    dialog.locator("[name=comment]").fill("maintenance <b>window</b>")
    console.check("alerts-silence-form")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector(f'tr.alert-row[data-mute="suppressed"]:has-text("{ops_alert}")')
    status = _alert(web_server, ops_alert)["status"]
    assert status["state"] == "suppressed" and len(status["silencedBy"]) == 1
    [silence_id] = status["silencedBy"]
    silence = page.locator(f'#silences-list tr[data-silence="{silence_id}"]')
    assert "maintenance <b>window</b>" in silence.inner_text()  # shown as text, not HTML
    assert page.locator("#silences-list b").count() == 0
    console.check("alerts-silenced")
    silence.locator("button.expire").click()
    page.wait_for_selector(f'#silences-list tr[data-silence="{silence_id}"][data-state="expired"]')
    assert _alert(web_server, ops_alert)["status"]["state"] == "active"
    page.wait_for_selector(f'tr.alert-row[data-mute="active"]:has-text("{ops_alert}")')
    console.check("alerts-silence-expired")


def _open_incident(web_server: Seeded, title: str, fingerprints: tuple[str, ...] = ()) -> int:
    body = {"title": title, "severity": "high", "fingerprints": list(fingerprints)}
    with web_server.client() as client:
        created = client.post("/incidents", json=body)
        assert created.status_code == 201, created.text
    return int(created.json()["number"])


def test_incident_list_detail_and_acknowledge(console: Console, web_server: Seeded) -> None:
    number = _open_incident(web_server, "Disk filling on web-1")
    console.goto("/ui/incidents")
    console.login()
    console.wait_ready("/incidents")
    page = console.page
    row = page.locator(f'#incidents-list tr[data-incident="{number}"]')
    assert "Disk filling on web-1" in row.inner_text()
    assert row.get_attribute("data-status") == "triggered"
    assert "MTTA" in page.locator("#incident-stats").inner_text()
    console.check("incidents")
    row.locator("a").click()
    page.wait_for_selector("#incident-detail h1")
    assert f"#{number} Disk filling on web-1" in page.locator("#incident-detail h1").inner_text()
    page.click("#acknowledge")
    page.wait_for_selector("#incident-status:has-text('acknowledged')")
    with web_server.client() as client:
        detail = client.get(f"/incidents/{number}").json()
    assert detail["status"] == "acknowledged" and detail["acknowledged_at"] is not None
    changes = [e for e in detail["timeline"] if e["kind"] == "status_changed"]
    assert [e["actor"] for e in changes] == ["admin"]
    assert page.locator("#incident-tta strong").inner_text() != "—"
    page.fill("textarea[name=comment]", "looking at it")
    page.click(".comment-form button[type=submit]")
    page.wait_for_selector("#incident-timeline li:has-text('looking at it')")
    page.click("#resolve")
    page.wait_for_selector("#incident-status:has-text('resolved')")
    assert page.locator("#incident-ttr strong").inner_text() != "—"
    console.check("incident-detail")
    page.click("text=← All incidents")
    console.wait_ready("/incidents")
    page.wait_for_selector("#mtta strong")
    assert page.locator("#mtta strong").inner_text() != "—"  # this incident was acknowledged
    assert page.locator("#mttr strong").inner_text() != "—"
    page.click("button[data-filter=resolved]")
    page.wait_for_selector(f'#incidents-list tr[data-incident="{number}"][data-status="resolved"]')


def test_incident_assign_and_merge_from_the_detail_page(
    console: Console, web_server: Seeded
) -> None:
    target = _open_incident(web_server, "Checkout errors")
    other = _open_incident(web_server, "Checkout latency")
    console.goto(f"/ui/incidents?id={target}")
    console.login()
    console.wait_ready("/incidents")
    page = console.page
    page.click("button:has-text('Assign to me')")
    page.wait_for_selector("#incident-timeline li:has-text('assign')")
    page.fill("input[name=merge]", f"#{other}")
    page.click("form.inline-form button:has-text('Merge')")
    page.wait_for_selector(f"#incident-timeline li:has-text('#{other} merged into this one')")
    with web_server.client() as client:
        me = client.get("/auth/me").json()
        assert client.get(f"/incidents/{target}").json()["assignee"] == me["id"]
        assert client.get(f"/incidents/{other}").json()["merged_into"] is not None
    console.check("incident-assigned-merged")


def test_alerts_are_split_out_of_an_incident(
    console: Console, web_server: Seeded, ops_alert: str
) -> None:
    seed = _alert(web_server, "SeedDiskFilling")["fingerprint"]
    ops = _alert(web_server, ops_alert)["fingerprint"]
    number = _open_incident(web_server, "Two unrelated alerts", (seed, ops))
    console.goto(f"/ui/incidents?id={number}")
    console.login()
    console.wait_ready("/incidents")
    page = console.page
    page.check(f"input[name=split][value='{ops}']")
    page.fill("input[name=split-title]", "Ops alert on its own")
    page.click("button:has-text('Split ticked alerts out')")
    page.wait_for_selector("#incident-timeline li:has-text('moved to new incident')")
    with web_server.client() as client:
        source = client.get(f"/incidents/{number}").json()
        assert [a["fingerprint"] for a in source["alerts"]] == [seed]
        split = [
            i
            for i in client.get("/incidents").json()["incidents"]
            if i["title"] == "Ops alert on its own"
        ]
    assert len(split) == 1 and split[0]["alert_count"] == 1
    console.check("incident-split")


def test_an_unknown_incident_is_reported_inline(console: Console) -> None:
    console.allow(r"HTTP 404 GET .*/incidents/99999")
    console.allow(r"status of 404")
    console.goto("/ui/incidents?id=99999")
    console.login()
    console.wait_ready("/incidents")
    assert "not found" in console.page.locator("#incident-detail .error").inner_text()
    console.check("incident-not-found")


def test_anomaly_is_drawn_with_band_and_explanation_and_marked(
    console: Console, web_server: Seeded, anomaly: str
) -> None:
    console.goto("/ui/anomalies")
    console.login()
    console.wait_ready("/anomalies")
    page = console.page
    row = page.locator(f'tr[data-anomaly="{anomaly}"]')
    assert "0.93" in row.inner_text() and "node_load1" in row.inner_text()
    row.locator("button").click()
    console.wait_charts(1)
    detail = page.locator("#anomaly-detail")
    page.wait_for_selector("#anomaly-detail .note:has-text('expected')")
    text = detail.inner_text()
    assert "vs expected" in text  # the sentence
    assert "Contributing features" in text and "level" in text
    page.click("#anomaly-detail button[data-label=false_positive]")
    page.wait_for_selector("#feedback-status:has-text('Marked false positive by admin')")
    with web_server.client() as client:
        items = client.get("/ai/anomalies").json()["items"]
    assert next(a for a in items if a["id"] == anomaly)["feedback"]["label"] == "false_positive"
    assert row.locator(".verdict").inner_text() == "false positive"
    console.check("anomalies")
    page.click("#anomaly-detail button[data-label=undo]")
    page.wait_for_selector("#feedback-status:has-text('Not reviewed yet')")
    with web_server.client() as client:
        items = client.get("/ai/anomalies").json()["items"]
    assert next(a for a in items if a["id"] == anomaly)["feedback"] is None


def test_anomaly_is_selected_with_the_keyboard_in_the_dark_theme(
    console: Console, anomaly: str
) -> None:
    console.goto("/ui/anomalies")
    console.login()
    console.wait_ready("/anomalies")
    page = console.page
    if page.evaluate("document.documentElement.dataset.theme") != "dark":
        page.click("#theme-toggle")
        page.wait_for_selector('html[data-theme="dark"]', state="attached")
        console.wait_ready("/anomalies")
    page.focus(f'tr[data-anomaly="{anomaly}"] button')
    page.keyboard.press("Enter")
    console.wait_charts(1)
    page.keyboard.press("Tab")  # on to the next control, never trapped in the list
    assert page.evaluate("document.activeElement.tagName") in ("BUTTON", "A", "SELECT")
    console.check("anomalies-dark")


@pytest.mark.parametrize("path", ["/alerts", "/incidents", "/anomalies"])
def test_ops_pages_fit_a_phone(console: Console, path: str, ops_alert: str, anomaly: str) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 800})
    console.goto(f"/ui{path}")
    console.login()
    console.wait_ready(path)
    if path == "/anomalies":
        page.locator(f'tr[data-anomaly="{anomaly}"] button').click()
        console.wait_charts(1)
    assert page.evaluate(OVERFLOW) == 0
    console.check(f"phone-{path.strip('/')}")
