"""`POST/DELETE /ai/anomalies/{id}/feedback`: operators' true / false positive verdicts, shown
in the anomaly list, audited, bounded to the tenant and to editors."""

from __future__ import annotations

import hashlib

import numpy as np

from tests.conftest import Env, TenantFixture
from watchkeeper.detect import service
from watchkeeper.detect.explain import explain
from watchkeeper.tenancy import service as tenancy


def seed_anomaly(env: Env, tenant: str) -> str:
    """One recorded event on a synthetic series, explained like the loop explains them."""
    now = env.clock.time()
    t = (now - 60 * np.arange(120)[::-1]).astype(np.float64)
    x = 50 + np.sin(np.arange(120) / 5)
    x[-1] = 95.0
    labels = {"__name__": "cpu_usage", "host": "db-1"}
    context = env.context
    with context.sessions.system("test") as db:
        tenant_id = tenancy.find_tenant(db, tenant).id
    with context.sessions.tenant(tenant_id) as db:
        event = service.NewAnomaly(
            series_hash=hashlib.sha256(b'cpu_usage{host="db-1"}').hexdigest(),
            labels=labels,
            detector="robust_residual",
            explanation=explain('cpu_usage{host="db-1"}', t, x, 0.97, ["robust_residual"], 1),
        )
        assert service.record_anomalies(db, [event], now=env.clock.now()) == 1
    with context.sessions.tenant(tenant_id) as db:
        page = service.list_anomalies(db, limit=1)
    return page.items[0].id


def _listed(env: Env, headers: dict[str, str]) -> dict[str, object]:
    response = env.client.get("/ai/anomalies", headers=headers)
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    return item  # type: ignore[no-any-return]


def test_feedback_is_recorded_replaced_listed_undone_and_audited(
    env: Env, acme: TenantFixture
) -> None:
    anomaly = seed_anomaly(env, "acme")
    assert _listed(env, acme.admin)["feedback"] is None
    url = f"/ai/anomalies/{anomaly}/feedback"
    first = env.client.post(url, headers=acme.admin, json={"label": "false_positive"})
    assert first.status_code == 200, first.text
    assert first.json()["label"] == "false_positive" and first.json()["by"] == "acme-admin"
    again = env.client.post(url, headers=acme.admin, json={"label": "true_positive"})
    assert again.status_code == 200
    assert _listed(env, acme.admin)["feedback"]["label"] == "true_positive"  # type: ignore[index]
    assert env.client.delete(url, headers=acme.admin).status_code == 204
    assert _listed(env, acme.admin)["feedback"] is None
    assert env.client.delete(url, headers=acme.admin).status_code == 404  # nothing to undo
    trail = env.client.get("/api/v1/audit", headers=acme.admin).json()
    mine = [r for r in trail if r["path"] == url]
    assert [r["method"] for r in mine] == ["DELETE", "DELETE", "POST", "POST"]
    assert mine[-1]["details"]["label"] == "false_positive"
    assert mine[-1]["details"]["anomaly_id"] == anomaly


def test_feedback_rejects_bad_input_viewers_and_other_tenants(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    anomaly = seed_anomaly(env, "acme")
    url = f"/ai/anomalies/{anomaly}/feedback"
    bad = env.client.post(url, headers=acme.admin, json={"label": "maybe"})
    assert bad.status_code in (400, 422) and "label" in bad.text
    extra = env.client.post(url, headers=acme.admin, json={"label": "true_positive", "x": 1})
    assert extra.status_code in (400, 422)
    viewer = env.client.post(url, headers=acme.viewer, json={"label": "true_positive"})
    assert viewer.status_code == 403
    assert viewer.json()["error"]["details"] == {"permission": "anomalies:feedback"}
    other = env.client.post(url, headers=globex.admin, json={"label": "true_positive"})
    assert other.status_code == 404
    assert env.client.delete(url, headers=globex.admin).status_code == 404
    missing = env.client.post(
        "/ai/anomalies/nope/feedback", headers=acme.admin, json={"label": "true_positive"}
    )
    assert missing.status_code == 404
    long = env.client.post(
        f"/ai/anomalies/{'a' * 5000}/feedback", headers=acme.admin, json={"label": "true_positive"}
    )
    assert long.status_code == 404
    assert _listed(env, acme.admin)["feedback"] is None


def test_feedback_goes_with_its_event_when_retention_deletes_it(
    env: Env, acme: TenantFixture
) -> None:
    from sqlalchemy import delete, func, select

    from watchkeeper.db.tables import AnomalyFeedback, AnomalyRecord

    anomaly = seed_anomaly(env, "acme")
    url = f"/ai/anomalies/{anomaly}/feedback"
    assert env.client.post(url, headers=acme.admin, json={"label": "true_positive"}).is_success
    # the statement retention runs (runtime/housekeeping.py `_delete`): a bulk DELETE
    with env.context.sessions.system("test retention") as db:
        db.execute(delete(AnomalyRecord).where(AnomalyRecord.id == anomaly))
    with env.context.sessions.system("test") as db:
        assert db.scalar(select(func.count()).select_from(AnomalyFeedback)) == 0
