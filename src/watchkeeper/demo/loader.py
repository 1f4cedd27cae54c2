"""Load the demo into its own tenant through the services, and remove it again.

`load_demo` creates tenant `demo` (the super-admins are its admins), writes the synthetic workload (workload.py) through the
ingest service, creates a rule group and an SLO through their services, then replays the
last `replay_minutes` minute by minute with a manual clock: the rule evaluator turns the
series into pending, firing and resolved alerts with their history, the correlator opens an
incident from them, and the latency spike is recorded as an anomaly with its explanation.
So every page of the console has data, with a past, the moment the command returns.

`remove_demo` deletes the tenant; everything it owns goes with it (foreign keys cascade).
Its series stay in the metric store, unreachable (no tenant has that id), until retention
drops them: MetricStore has no per-tenant delete.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from watchkeeper.alert import service as rules
from watchkeeper.alert.evaluator import GroupEvaluator
from watchkeeper.alert.rules import CompiledGroup, parse_group, parse_yaml
from watchkeeper.alert.state import FlapPolicy
from watchkeeper.clock import ManualClock
from watchkeeper.db.tables import AlertRuleGroup, Incident, Membership, Tenant, User
from watchkeeper.demo.workload import ANOMALY_AGO, Window, workload
from watchkeeper.detect.explain import Explanation, Pattern
from watchkeeper.detect.service import NewAnomaly, record_anomalies
from watchkeeper.ingest.service import IngestService
from watchkeeper.query import Engine
from watchkeeper.slo import service as slos
from watchkeeper.slo.spec import parse_slo
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import ConflictError, NotFoundError, create_tenant, find_tenant

if TYPE_CHECKING:
    from watchkeeper.app_context import AppContext

DEMO_TENANT = "demo"
RULES = """
name: demo-services
interval: 1m
rules:
  - record: service:http_requests:rate5m
    expr: sum by (service) (rate(http_requests_total[5m]))
  - alert: HighErrorRate
    expr: |
      sum by (service) (rate(http_requests_total{code=~"5.."}[5m]))
        / sum by (service) (rate(http_requests_total[5m])) > 0.02
    for: 5m
    labels: {severity: page}
    annotations:
      summary: "{{ $labels.service }}: {{ $value | humanizePercentage }} of requests fail"
  - alert: LatencyAnomaly
    type: anomaly
    selector: service_latency_seconds
    threshold: 0.9
    labels: {severity: warning}
    annotations:
      summary: "{{ $labels.service }} latency is anomalous (score {{ $value }})"
  - alert: DiskWillFill
    type: forecast
    selector: 'node_filesystem_avail_bytes{job="demo"}'
    direction: below
    threshold: 0
    within: 12h
    lookback: 2h
    for: 10m
    labels: {severity: warning, service: database}
    annotations:
      summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} is predicted full within 12 hours"
"""
SLO = {
    "name": "checkout-availability",
    "description": "Checkout requests that do not fail",
    "objective": 99.9,
    "window": "30d",
    "good": 'http_requests_total{service="checkout", code!~"5.."}',
    "total": 'http_requests_total{service="checkout"}',
    "labels": {"service": "checkout"},
}


@dataclass(frozen=True)
class DemoReport:
    tenant_id: str
    series: int
    samples: int
    alerts_firing: list[str]
    incidents: int
    anomalies: int


def _evaluator(context: AppContext, clock: ManualClock) -> GroupEvaluator:
    alerting = context.settings.alerting
    return GroupEvaluator(
        query=Engine(context.store, clock=clock),
        store=context.store,
        sessions=context.sessions,
        clock=clock,
        flap=FlapPolicy(alerting.flap_max_changes, alerting.flap_window_seconds),
        external_url=context.settings.server.public_url or "",
    )


def _anomaly(tenant_id: str, end: float) -> NewAnomaly:
    """Search's latency spike as the detection loop explains one."""
    labels = {"__name__": "service_latency_seconds", "service": "search", "job": "demo"}
    series = 'service_latency_seconds{job="demo", service="search"}'
    at = end - ANOMALY_AGO[0] + 120
    explanation = Explanation(
        series=series,
        timestamp=at,
        observed=0.47,
        expected=0.08,
        band=0.012,
        deviation_sigma=32.5,
        pattern=Pattern.SPIKE,
        started_at=end - ANOMALY_AGO[0],
        context=datetime.fromtimestamp(at, UTC).strftime("%A %H:00"),
        detectors_agreeing=("robust_residual", "isolation_forest"),
        detectors_total=3,
        score=0.97,
        attributions={"level": 0.82, "trend": 0.11, "seasonal": 0.07},
        unit="s",
    )
    digest = hashlib.sha256(f"{tenant_id}/{series}".encode()).hexdigest()
    return NewAnomaly(digest, labels, "ensemble", explanation)


def load_demo(
    context: AppContext, *, now: float, hours: float = 6.0, replay_minutes: int = 60
) -> DemoReport:
    """Create tenant `demo` with its workload, rules, SLO, alerts, incident and anomaly."""
    if not 1 <= hours <= 48 or not 0 <= replay_minutes <= hours * 60:
        raise ValueError("hours must be 1 to 48, replay_minutes at most hours x 60")
    clock = ManualClock(start=now - replay_minutes * 60)
    with context.sessions.system("demo: create tenant") as db:
        if db.scalar(select(Tenant).where(Tenant.name == DEMO_TENANT)) is not None:
            raise ConflictError("the demo is already loaded; `watchkeeper demo --remove` first")
        tenant_id = create_tenant(
            db, name=DEMO_TENANT, display_name="Demo (synthetic data)", now=clock.now()
        ).id
        admins = list(db.scalars(select(User.id).where(User.is_superadmin.is_(True))))
    try:
        return _fill(context, tenant_id, admins, clock, now=now, hours=hours)
    except BaseException:  # no half-loaded demo: the next `watchkeeper demo` starts clean
        remove_demo(context.sessions)
        raise


def _fill(
    context: AppContext,
    tenant_id: str,
    admins: list[str],
    clock: ManualClock,
    *,
    now: float,
    hours: float,
) -> DemoReport:
    from watchkeeper.incidents.correlation import CorrelationRules, Correlator
    from watchkeeper.wiring import incident_policy

    replay_minutes = round((now - clock.time()) / 60)
    with context.sessions.tenant(tenant_id) as db:
        for user_id in admins:  # so the operator can log in to it (tenant switcher)
            db.add(Membership(user_id=user_id, role="admin", created_at=clock.now()))

    batch = workload(Window(end=now, hours=hours))
    ingest = IngestService(context.store, ManualClock(start=now))
    result = ingest.write(tenant_id, batch, source="demo")
    if not result.ok:
        raise RuntimeError(f"the demo's series were refused: {result}")

    interval = context.settings.alerting.evaluation_interval_seconds
    group: CompiledGroup = parse_group(parse_yaml(RULES), default_interval=interval)
    with context.sessions.tenant(tenant_id) as db:
        rules.save_group(db, group, now=clock.now(), create=True)
        slos.save_slo(db, parse_slo(SLO), now=clock.now(), create=True, default_interval=interval)
        slo_group = db.scalar(
            select(AlertRuleGroup).where(AlertRuleGroup.name == "slo:" + str(SLO["name"]))
        )
        assert slo_group is not None
        groups = [group, rules.compile_row(slo_group, interval)]

    evaluator = _evaluator(context, clock)
    correlator = Correlator(
        CorrelationRules.from_settings(context.settings.incidents), incident_policy(context)
    )
    anomaly_at = now - ANOMALY_AGO[0] + 120
    anomalies = 0
    for _ in range(replay_minutes + 1):
        for compiled in groups:
            evaluator.evaluate(tenant_id, compiled)
        with context.sessions.tenant(tenant_id) as db:
            correlator.run(db, clock.now())
            if anomalies == 0 and clock.time() >= anomaly_at:
                anomalies = record_anomalies(db, [_anomaly(tenant_id, now)], now=clock.now())
        if clock.time() >= now:
            break
        clock.advance(min(60.0, now - clock.time()))

    if anomalies == 0:  # a replay shorter than the anomaly's age
        with context.sessions.tenant(tenant_id) as db:
            anomalies = record_anomalies(db, [_anomaly(tenant_id, now)], now=clock.now())
    with context.sessions.tenant(tenant_id) as db:
        firing = sorted(
            {
                f"{a.rule_name}{{{a.labels.get('service', '')}}}"
                for a in rules.select_alerts(db, states=["firing"])
            }
        )
        incidents = len(list(db.scalars(select(Incident))))
    samples = int(sum(np.size(s.values) for s in batch))
    return DemoReport(tenant_id, len(batch), samples, firing, incidents, anomalies)


def remove_demo(sessions: SessionFactory) -> bool:
    """Delete tenant `demo` and all it owns; False if there was none."""
    with sessions.system("demo: remove tenant") as db:
        try:
            tenant = find_tenant(db, DEMO_TENANT)
        except NotFoundError:
            return False
        db.delete(tenant)
    return True
