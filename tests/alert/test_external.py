"""Alerts in from Prometheus (Alertmanager API v2) and Alertmanager's webhook (version 4):
same rows and alert events as our own rules, deduplicated, resolved by sender or expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Env
from watchkeeper.alert.external import ExternalAlerts, parse_postable_alerts, parse_time
from watchkeeper.alert.state import FlapPolicy
from watchkeeper.db.tables import AlertEvent

LABELS = {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "critical"}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _key(env: Env, scopes: list[str]) -> dict[str, str]:
    response = env.client.post(
        "/api/v1/apikeys", headers=env.login(), json={"name": "prom", "scopes": scopes}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def _events(env: Env) -> list[tuple[str, str, str]]:
    context = env.context
    with context.sessions.system("test") as db:
        rows = db.scalars(select(AlertEvent).order_by(AlertEvent.id))
        return [(n.group_name, n.kind, n.payload["status"]) for n in rows]


def _alerts(env: Env, auth: dict[str, str], *states: str) -> list[dict[str, object]]:
    params = tuple(("state", s) for s in states or ("firing",))
    response = env.client.get("/api/v1/alerts", headers=auth, params=params)
    assert response.status_code == 200, response.text
    alerts: list[dict[str, object]] = response.json()["data"]["alerts"]
    return alerts


@pytest.fixture
def auth(env: Env) -> dict[str, str]:
    return _key(env, ["write"])


def test_prometheus_alert_fires_once_however_often_it_is_resent(
    env: Env, auth: dict[str, str]
) -> None:
    starts = env.clock.now() - timedelta(seconds=30)
    alert = {
        "labels": LABELS,
        "annotations": {"summary": "disk full"},
        "startsAt": _iso(starts),
        "endsAt": _iso(env.clock.now() + timedelta(minutes=4)),
        "generatorURL": "http://prom:9090/graph?g0.expr=x",
    }
    for _ in range(3):
        response = env.client.post("/api/v2/alerts", headers=auth, json=[alert])
        assert response.status_code == 200, response.text
        env.clock.advance(15)

    (listed,) = _alerts(env, auth)
    assert listed["labels"] == LABELS
    assert listed["annotations"] == {"summary": "disk full"}
    assert parse_time(listed["startsAt"], "startsAt") == starts
    assert _events(env) == [("external:prometheus", "firing", "firing")]


def test_fingerprint_is_alertmanagers(env: Env, auth: dict[str, str]) -> None:
    from watchkeeper.alert.model import fingerprint as label_fingerprint

    env.client.post("/api/v2/alerts", headers=auth, json=[{"labels": LABELS}])
    (listed,) = _alerts(env, auth)
    assert listed["fingerprint"] == label_fingerprint(LABELS)


def test_prometheus_resolution_is_one_resolved_event(env: Env, auth: dict[str, str]) -> None:
    env.client.post("/api/v2/alerts", headers=auth, json=[{"labels": LABELS}])
    env.clock.advance(10)
    ended = {"labels": LABELS, "endsAt": _iso(env.clock.now())}
    for _ in range(2):
        assert env.client.post("/api/v2/alerts", headers=auth, json=[ended]).status_code == 200

    assert _alerts(env, auth) == []
    (resolved,) = _alerts(env, auth, "resolved")
    assert parse_time(resolved["endsAt"], "endsAt") == env.clock.now()
    assert [kind for _, kind, _ in _events(env)] == ["firing", "resolved"]


def test_alert_not_resent_before_its_ends_at_resolves_by_itself(
    env: Env, auth: dict[str, str]
) -> None:
    ends = env.clock.now() + timedelta(seconds=60)
    env.client.post("/api/v2/alerts", headers=auth, json=[{"labels": LABELS, "endsAt": _iso(ends)}])
    context = env.context
    expiry = ExternalAlerts(context.sessions, context.clock, FlapPolicy())

    # The app's own expiry worker runs too (woken by the clock): both may try, one resolves.
    env.clock.advance(59)
    expiry.expire()
    assert len(_alerts(env, auth)) == 1
    env.clock.advance(2)
    expiry.expire()
    expiry.expire()

    (resolved,) = _alerts(env, auth, "resolved")
    assert parse_time(resolved["endsAt"], "endsAt") == ends
    assert [kind for _, kind, _ in _events(env)] == ["firing", "resolved"]


def test_alert_without_ends_at_gets_alertmanagers_resolve_timeout(
    env: Env, auth: dict[str, str]
) -> None:
    env.client.post("/api/v2/alerts", headers=auth, json=[{"labels": LABELS}])
    context = env.context
    expiry = ExternalAlerts(context.sessions, context.clock, FlapPolicy())
    env.clock.advance(299)
    expiry.expire()
    assert len(_alerts(env, auth)) == 1
    env.clock.advance(2)
    expiry.expire()
    assert _alerts(env, auth) == []


def test_webhook_firing_then_resolved(env: Env, auth: dict[str, str]) -> None:
    starts = _iso(env.clock.now().replace(microsecond=0))
    body: dict[str, Any] = {
        "version": "4",
        "status": "firing",
        "receiver": "watchkeeper",
        "groupKey": '{}:{alertname="DiskFull"}',
        "alerts": [
            {
                "status": "firing",
                "labels": LABELS,
                "annotations": {},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "ignored",
                "generatorURL": "",
            }
        ],
    }
    assert env.client.post("/api/v1/alerts/webhook", headers=auth, json=body).status_code == 200
    env.clock.advance(3600)  # no end: stays firing until Alertmanager says resolved
    context = env.context
    ExternalAlerts(context.sessions, context.clock, FlapPolicy()).expire()
    assert len(_alerts(env, auth)) == 1

    body["alerts"][0] |= {"status": "resolved", "endsAt": _iso(env.clock.now())}
    assert env.client.post("/api/v1/alerts/webhook", headers=auth, json=body).status_code == 200
    assert _alerts(env, auth) == []
    assert _events(env) == [
        ("external:alertmanager", "firing", "firing"),
        ("external:alertmanager", "resolved", "resolved"),
    ]


BAD_INPUT: list[tuple[str, object, str]] = [
    ("/api/v2/alerts", {"labels": LABELS}, "JSON list"),
    ("/api/v2/alerts", [{"labels": {}}], "[0].labels"),
    ("/api/v2/alerts", [{"labels": {"bad-name": "x"}}], "bad-name"),
    ("/api/v2/alerts", [{"labels": LABELS, "startsAt": "yesterday"}], "[0].startsAt"),
    (
        "/api/v2/alerts",
        [
            {
                "labels": LABELS,
                "startsAt": "2026-01-02T00:00:00Z",
                "endsAt": "2026-01-01T00:00:00Z",
            }
        ],
        "endsAt is before startsAt",
    ),
    ("/api/v1/alerts/webhook", {"version": "3", "alerts": []}, "version"),
    ("/api/v1/alerts/webhook", {"version": "4", "alerts": [{"labels": LABELS}]}, "status"),
]


def test_bad_input_is_a_400_naming_the_problem(env: Env, auth: dict[str, str]) -> None:
    for path, body, names in BAD_INPUT:
        response = env.client.post(path, headers=auth, json=body)
        assert response.status_code == 400, response.text
        assert names in response.json()["error"]["message"], (names, response.text)
    assert env.client.get("/api/v1/alerts", headers=auth).json()["data"]["alerts"] == []


def test_malformed_json_is_a_400(env: Env, auth: dict[str, str]) -> None:
    response = env.client.post("/api/v2/alerts", headers=auth, content=b"[{")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_an_ingest_key_may_push_alerts_and_a_read_key_may_not(env: Env) -> None:
    pushed = env.client.post(
        "/api/v2/alerts", headers=_key(env, ["ingest"]), json=[{"labels": LABELS}]
    )
    assert pushed.status_code == 200, pushed.text
    response = env.client.post(
        "/api/v2/alerts", headers=_key(env, ["read"]), json=[{"labels": LABELS}]
    )
    assert response.status_code == 403
    assert "alerts:write" in response.json()["error"]["message"]


def test_go_times_with_nanoseconds_parse() -> None:
    assert parse_time("2026-11-28T10:00:00.123456789Z", "t") == datetime(
        2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2026-11-28T12:00:00+02:00", "t") == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z", "t") is None


def test_concurrent_senders_produce_one_event_per_change(env: Env, auth: dict[str, str]) -> None:
    """A Prometheus HA pair sends the same alerts at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    context = env.context
    service = ExternalAlerts(context.sessions, context.clock, FlapPolicy())
    tenant = env.client.get("/auth/me", headers=auth).json()["tenant_id"]
    firing = parse_postable_alerts([{"labels": LABELS}])
    ended = parse_postable_alerts([{"labels": LABELS, "endsAt": _iso(env.clock.now())}])
    for batch in (firing, ended):
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(service.receive, [tenant] * 4, ["prometheus"] * 4, [batch] * 4))
    assert [kind for _, kind, _ in _events(env)] == ["firing", "resolved"]
