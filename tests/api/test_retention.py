"""Retention policies per tenant: the API (tenant admin, audited, bounded) and their
enforcement by the housekeeping worker, the audit chain staying verifiable."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import Env, TenantFixture
from watchkeeper.audit import AuditEntry
from watchkeeper.db.tables import AnomalyRecord, AuditCheckpoint, AuditRecord
from watchkeeper.runtime.housekeeping import Housekeeping


def _housekeeping(env: Env) -> Housekeeping:
    context = env.context
    return Housekeeping(
        context.clock, context.sessions, context.settings, context.audit, store=context.store
    )


def _tenant_id(env: Env, name: str) -> str:
    return str(env.context.tenants.id_of(name))


def test_defaults_follow_the_settings_they_point_at(env: Env, acme: TenantFixture) -> None:
    body = env.client.get("/api/v1/retention", headers=acme.admin).json()
    settings = env.context.settings
    assert body["overrides"]["audit_days"] is None
    assert body["effective"]["audit_days"] == settings.retention.audit_days
    assert body["effective"]["metrics_days"] == settings.metrics.retention_days
    assert body["effective"]["notifications_days"] == settings.notifications.outbox_retention_days


def test_a_tenant_admin_sets_the_policy_and_the_change_is_audited(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    response = env.client.put(
        "/api/v1/retention", headers=acme.admin, json={"anomalies_days": 7, "audit_days": 400}
    )
    assert response.status_code == 200, response.text
    assert response.json()["effective"]["anomalies_days"] == 7
    theirs = env.client.get("/api/v1/retention", headers=globex.admin).json()
    assert theirs["overrides"]["anomalies_days"] is None
    audit = env.client.get("/api/v1/audit", headers=acme.admin).json()
    assert audit[0]["action"] == "PUT /api/v1/retention" and audit[0]["outcome"] == "success"
    reset = env.client.put("/api/v1/retention", headers=acme.admin, json={"anomalies_days": None})
    assert reset.json()["overrides"]["anomalies_days"] is None


def test_viewers_may_not_change_the_policy(env: Env, acme: TenantFixture) -> None:
    response = env.client.put("/api/v1/retention", headers=acme.viewer, json={"audit_days": 100})
    assert response.status_code == 403


def test_values_outside_their_bounds_are_refused_naming_the_bound(
    env: Env, acme: TenantFixture
) -> None:
    short_audit = env.client.put("/api/v1/retention", headers=acme.admin, json={"audit_days": 1})
    long_outbox = env.client.put(
        "/api/v1/retention", headers=acme.admin, json={"notifications_days": 10_000}
    )
    unknown = env.client.put("/api/v1/retention", headers=acme.admin, json={"forever": 1})
    assert (
        short_audit.status_code == 422
        and "audit_min_days" in short_audit.json()["error"]["message"]
    )
    assert long_outbox.status_code == 422 and "shortened" in long_outbox.json()["error"]["message"]
    assert unknown.status_code == 422


def _anomaly(env: Env, tenant_id: str, age_days: float) -> None:
    at = env.clock.now() - timedelta(days=age_days)
    with env.context.sessions.tenant(tenant_id) as db:
        db.add(
            AnomalyRecord(
                series_hash=hashlib.sha256(f"{tenant_id}{age_days}".encode()).hexdigest(),
                series="up",
                metric="up",
                labels={"__name__": "up"},
                at=at,
                detector="default",
                score=0.9,
                pattern="spike",
                explanation={},
                sentence="up is odd",
                created_at=at,
            )
        )


def _anomalies(env: Env, tenant_id: str) -> int:
    with env.context.sessions.tenant(tenant_id) as db:
        return int(db.scalar(select(func.count(AnomalyRecord.id))) or 0)


def test_housekeeping_prunes_each_tenant_by_its_own_policy(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    acme_id, globex_id = _tenant_id(env, "acme"), _tenant_id(env, "globex")
    for tenant_id in (acme_id, globex_id):
        _anomaly(env, tenant_id, 10)
        _anomaly(env, tenant_id, 1)
    env.client.put("/api/v1/retention", headers=acme.admin, json={"anomalies_days": 5})

    _housekeeping(env).prune()

    assert _anomalies(env, acme_id) == 1
    assert _anomalies(env, globex_id) == 2


def _audit(env: Env, tenant_id: str | None, age_days: float, n: int) -> None:
    for i in range(n):
        env.context.audit.record(
            AuditEntry(
                at=env.clock.now() - timedelta(days=age_days),
                tenant_id=tenant_id,
                actor_type="user",
                actor_id="u1",
                actor_name="someone",
                action="POST /api/v1/things",
                method="POST",
                path="/api/v1/things",
                status_code=201,
                request_id=f"old-{i}",
                client_ip="192.0.2.1",
            )
        )


def test_audit_pruning_keeps_the_chain_verifiable_from_a_signed_anchor(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    acme_id, globex_id = _tenant_id(env, "acme"), _tenant_id(env, "globex")
    env.client.put("/api/v1/retention", headers=acme.admin, json={"audit_days": 100})
    with env.context.sessions.system("test") as db:
        db.execute(AuditRecord.__table__.delete())  # type: ignore[attr-defined]
        db.execute(AuditCheckpoint.__table__.delete())  # type: ignore[attr-defined]
    (env.data_dir / "audit-checkpoint.json").unlink()
    _audit(env, acme_id, 200, 3)  # expired: deleted from the oldest end
    _audit(env, globex_id, 200, 2)  # kept (365 days by default)
    _audit(env, acme_id, 200, 2)  # expired, but behind globex's: tombstoned
    _audit(env, acme_id, 1, 2)  # recent

    _housekeeping(env).prune()

    report = env.context.audit.verify()
    assert report.intact, report.problems
    with env.context.sessions.system("test") as db:
        rows = list(db.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        anchor = db.get(AuditCheckpoint, "anchor")
    assert anchor is not None and anchor.count == 3
    assert [(r.tenant_id, r.action == "audit.pruned") for r in rows] == [
        (globex_id, False),
        (globex_id, False),
        (acme_id, True),
        (acme_id, True),
        (acme_id, False),
        (acme_id, False),
    ]
    assert all(r.actor_name is None and r.client_ip is None for r in rows[2:4])
    listed = env.client.get("/api/v1/audit", headers=acme.admin).json()
    assert all(r["action"] != "audit.pruned" for r in listed)


def test_a_tenants_metrics_retention_drops_its_old_samples_and_no_one_elses(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    now = env.clock.time()
    body = [
        {
            "metric": "room_temp",
            "labels": {"room": "a"},
            "samples": [[now - 3 * 86400, 1], [now, 2]],
        }
    ]
    for tenant in (acme, globex):
        assert env.client.post("/api/v1/ingest", headers=tenant.key, json=body).status_code == 200
    policy = env.client.put("/api/v1/retention", headers=acme.admin, json={"metrics_days": 1})
    assert "metrics_days" in policy.json()["enforced_per_tenant"]

    assert _housekeeping(env).prune().get("samples") == 1

    def kept(tenant: TenantFixture) -> list[float]:
        answer = env.client.get(
            "/api/v1/query_range",
            headers=tenant.key,
            params={"query": "room_temp", "start": now - 4 * 86400, "end": now, "step": 3600},
        ).json()
        return sorted({float(v) for r in answer["data"]["result"] for _, v in r["values"]})

    assert kept(acme) == [2.0]
    assert kept(globex) == [1.0, 2.0]
