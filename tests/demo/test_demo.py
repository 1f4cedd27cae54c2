"""`watchkeeper demo`: loads a story into tenant `demo`, and `--remove` takes it all away,
without touching any other tenant."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import Env, TenantFixture
from tests.support import ADMIN_PASSWORD
from watchkeeper.alert import service as rules
from watchkeeper.db.tables import (
    AlertInstance,
    AlertRuleGroup,
    AnomalyRecord,
    Incident,
    SloDefinition,
)
from watchkeeper.demo.loader import load_demo, remove_demo
from watchkeeper.query import VectorResult
from watchkeeper.tenancy.service import ConflictError, NotFoundError, find_tenant

ACME_GROUP = "rules: [{alert: Up, expr: 'vector(1)'}]"


def counts(env: Env, tenant_id: str) -> dict[str, int]:
    with env.context.sessions.system("test: count") as db:
        return {
            table.__tablename__: db.scalar(
                select(func.count()).select_from(table).where(table.tenant_id == tenant_id)
            )
            or 0
            for table in (AlertRuleGroup, AlertInstance, Incident, AnomalyRecord, SloDefinition)
        }


def query(env: Env, tenant_id: str, expr: str) -> list[float]:
    result = env.context.query.instant_query(tenant_id, expr, round(env.clock.time() * 1000))
    assert isinstance(result, VectorResult)
    return [s.value for s in result.samples]


def test_demo_loads_a_story_and_remove_takes_it_all_away(env: Env, acme: TenantFixture) -> None:
    created = env.client.put(
        "/api/v1/rules/groups/mine",
        content=ACME_GROUP,
        headers={**acme.admin, "Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.text
    acme_id = env.context.tenants.id_of("acme")
    acme_before = counts(env, acme_id)

    report = load_demo(env.context, now=env.clock.time(), hours=3, replay_minutes=60)

    demo_id = report.tenant_id
    with env.context.sessions.tenant(demo_id) as db:
        firing = {
            (a.rule_name, a.labels.get("service"))
            for a in rules.select_alerts(db, states=["firing"])
        }
        resolved = {a.rule_name for a in rules.select_alerts(db, states=["resolved"])}
        incidents = list(db.scalars(select(Incident)))
    assert ("HighErrorRate", "checkout") in firing
    assert ("ErrorBudgetBurn1h", "checkout") in firing  # the SLO's fast burn pages
    assert ("DiskWillFill", "database") in firing  # the forecast crosses zero within hours
    assert "LatencyAnomaly" in resolved  # the spike came and went
    assert any("checkout" in i.title or i.status == "open" for i in incidents)
    assert counts(env, demo_id)["anomaly_events"] == 1
    assert query(env, demo_id, "sum(rate(http_requests_total[5m]))")[0] > 0
    assert query(env, acme_id, "count(http_requests_total)") == []  # demo data stays in demo
    # The super-admin is a member of the demo tenant; like any change made outside the app
    # (the CLI), the app sees it once its 2-second credential cache expires.
    env.clock.advance(3)
    demo = env.login(tenant="demo")
    answer = env.client.get("/api/v1/slos/checkout-availability/status", headers=demo)
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["error_budget_remaining"] < 1
    assert "ErrorBudgetBurn1h" in status["firing_alerts"]
    with pytest.raises(ConflictError):
        load_demo(env.context, now=env.clock.time(), hours=1, replay_minutes=0)

    assert remove_demo(env.context.sessions) is True
    with env.context.sessions.system("test") as db, pytest.raises(NotFoundError):
        find_tenant(db, "demo")
    assert set(counts(env, demo_id).values()) == {0}
    assert counts(env, acme_id) == acme_before
    assert remove_demo(env.context.sessions) is False
    gone = env.client.post(
        "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD, "tenant": "demo"}
    )
    assert gone.status_code in (401, 403, 404), gone.text
    mine = env.client.get("/api/v1/rules/groups/mine", headers=acme.viewer)
    assert mine.status_code == 200
