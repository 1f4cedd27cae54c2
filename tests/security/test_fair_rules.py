"""One tenant's slow rule groups do not hold back another tenant's evaluations.

Every tenant's groups share one evaluation loop. Acme has three groups whose annotation is a
1.6 s loop (see test_templates.py); globex has one ordinary group due at the same instant.
Each group gets an evaluation budget, tenants are served round-robin, and a tenant that used
its share of the pass waits for the next pass: globex is evaluated after at most one of acme's
groups, and the pass ends in about acme's share instead of acme's total.
"""

from __future__ import annotations

import time

import numpy as np

from tests.conftest import Env, TenantFixture
from watchkeeper.domain.series import SeriesSamples, labels_from_dict

LOOP_BOMB = "{% for i in range(100000) %}{% for j in range(400) %}{% endfor %}{% endfor %}"
SLOW = """
name: NAME
interval: 30s
rules:
  - alert: Hot
    expr: cpu > 90
    annotations: {slow: "LOOP"}
""".replace("LOOP", LOOP_BOMB)
QUICK = """
name: quick
interval: 30s
rules:
  - alert: Hot
    expr: cpu > 90
    annotations: {summary: "{{ $labels.host }} is hot"}
"""


def put_cpu(env: Env, tenant: str) -> None:
    context = env.context
    context.store.append(
        context.tenants.id_of(tenant),
        [
            SeriesSamples(
                labels_from_dict({"__name__": "cpu", "host": "db-1"}),
                np.array([round(env.clock.time() * 1000)], np.int64),
                np.array([95.0], np.float64),
            )
        ],
    )


def create(env: Env, tenant: TenantFixture, name: str, body: str) -> None:
    response = env.client.post(
        f"/api/v1/rules/groups/{name}",
        content=body.replace("NAME", name),
        headers={**tenant.key, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text


def test_a_tenants_slow_groups_do_not_delay_another_tenants_group(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    for name in ("slow-1", "slow-2", "slow-3"):
        create(env, acme, name, SLOW)
    create(env, globex, "quick", QUICK)
    put_cpu(env, "acme")
    put_cpu(env, "globex")
    rules = env.context.rules
    assert rules is not None
    rules.evaluator.budget_seconds = 0.2  # security.rule_group_evaluation_seconds
    rules.tenant_pass_seconds = 0.3  # security.rule_tenant_pass_seconds

    started = time.monotonic()
    first = [r.group for r in rules.run_due()]
    first_pass = time.monotonic() - started
    second = [r.group for r in rules.run_due()]  # the clock has not moved: deferred ones only

    assert "quick" in first[:2], first  # after at most one of acme's groups
    slow_first = [g for g in first if g.startswith("slow")]
    assert 1 <= len(slow_first) < 3, first  # acme's share of the pass, the rest deferred
    assert first_pass < 2.5, first_pass  # acme's three groups alone took 4.8 s
    assert sorted(slow_first + second) == ["slow-1", "slow-2", "slow-3"], second
    groups = env.client.get("/api/v1/rules", headers=acme.key).json()["data"]["groups"]
    assert {g["health"] for g in groups} == {"err"}
    assert all("security.rule_group_evaluation_seconds" in g["lastError"] for g in groups)
    quick = env.client.get("/api/v1/rules", headers=globex.key).json()["data"]["groups"]
    assert [(g["name"], g["health"]) for g in quick] == [("quick", "ok")]
