"""Evaluating a rule group: PromQL through the query engine, then each alert's state machine.

A rule's kind turns its query results into candidates (`candidates.py`); each alerting rule's
candidates then go through the state machine (`machine.py`); after the state commits, the
`ALERTS` series are written (`alert_series.py`). Composite rules read the alerts their
component rules left firing earlier in the same evaluation.

- Budget: a group has `budget_seconds` of evaluation (`security.rule_group_evaluation_seconds`;
  the evaluator is shared by every tenant). Templates render under that deadline too; rules
  reached after it are skipped (their alerts unchanged, as for a failed query), and the group
  is marked unhealthy with the reason. An annotation or label template that fails or goes over
  its own budget renders Prometheus' `<error expanding template: ...>` and the alert still
  fires; its rule is marked unhealthy.

Every evaluation of a group is one transaction: rows, history and outbox notifications.
Nothing is kept in memory between evaluations, so a new evaluator (a restarted process)
continues from the database exactly where the old one stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.alert.alert_series import active_series, write_alert_series
from watchkeeper.alert.candidates import (
    ModelForecasts,
    RuleOutcome,
    Vector,
    add_crossing,
    candidates,
    composite,
    explain,
)
from watchkeeper.alert.machine import AlertStateMachine
from watchkeeper.alert.rules import CompiledGroup, CompiledRule
from watchkeeper.alert.state import FlapPolicy, Transitions, load_group_alerts
from watchkeeper.alert.templates import TemplateError
from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertInstance, AlertRuleGroup
from watchkeeper.domain.series import METRIC_NAME_LABEL, SeriesSamples, labels_from_dict
from watchkeeper.domain.times import utc
from watchkeeper.query import Engine, QueryError, ScalarResult, VectorResult
from watchkeeper.store.base import CardinalityLimitError, MetricStore
from watchkeeper.template_sandbox import Deadline
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

EVALUATION_SECONDS = Histogram(
    "watchkeeper_rule_group_evaluation_duration_seconds",
    "Time to evaluate one rule group (queries and state changes)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVALUATIONS = Counter("watchkeeper_rule_evaluations", "Rule evaluations", ["kind"])
EVALUATION_FAILURES = Counter(
    "watchkeeper_rule_evaluation_failures", "Rule evaluations that failed", ["kind"]
)


@dataclass
class GroupResult:
    """What one evaluation of a group did, for the worker's metrics and for tests."""

    group: str
    seconds: float
    states: dict[str, int]
    notifications: int
    errors: dict[str, str]
    budget_error: str = ""


BUDGET_LIMIT = "security.rule_group_evaluation_seconds"


class GroupEvaluator:
    """Evaluates compiled groups for a tenant and persists every alert transition."""

    def __init__(
        self,
        *,
        query: Engine,
        store: MetricStore,
        sessions: SessionFactory,
        clock: Clock,
        flap: FlapPolicy | None = None,
        external_url: str = "",
        budget_seconds: float | None = None,
    ) -> None:
        self.query = query
        self.store = store
        self.sessions = sessions
        self.clock = clock
        self.flap = flap or FlapPolicy()
        self.external_url = external_url.rstrip("/")
        self.budget_seconds = budget_seconds
        self._forecasts = ModelForecasts()

    def evaluate(self, tenant_id: str, group: CompiledGroup) -> GroupResult:
        """Evaluate every rule of the group at the clock's time, in order; one transaction."""
        started = time.perf_counter()  # a duration, not a comparison with "now"
        now_s = self.clock.time()
        now_ms = round(now_s * 1000)
        deadline = None
        if self.budget_seconds is not None:  # real time: it bounds CPU work, not a wait
            budget = self.budget_seconds
            deadline = Deadline(time.monotonic() + budget, BUDGET_LIMIT, budget)
        outcomes = [self._run_queries(tenant_id, rule, now_ms, deadline) for rule in group.rules]
        states: dict[str, int] = {"pending": 0, "firing": 0}
        with self.sessions.tenant(tenant_id) as db:
            rows = load_group_alerts(db, group.name)
            before = active_series(rows.values())
            transitions = Transitions(db, now_s, self.flap)
            firing_by_rule: dict[str, list[AlertInstance]] = {}
            for outcome in outcomes:
                rule = outcome.rule
                if rule.kind != "alerting":
                    continue
                if rule.spec.type == "composite" and not outcome.error:
                    outcome.candidates = composite(rule, firing_by_rule, group, deadline)
                self._limit(outcome, group.spec.limit)
                if rule.spec.type == "anomaly" and not outcome.error:
                    explain(db, outcome)
                machine = AlertStateMachine(
                    transitions, group.name, rule, self._url(rule), deadline
                )
                machine.run(rows, outcome)
                firing_by_rule[rule.name] = [
                    r for r in rows.values() if r.rule_name == rule.name and r.state == "firing"
                ]
            known = {r.name for r in group.rules}
            for row in [r for r in rows.values() if r.rule_name not in known]:
                transitions.retire(row)
            for row in rows.values():
                if row.state in states:
                    states[row.state] += 1
            after = active_series(rows.values())
            seconds = time.perf_counter() - started
            budget_error = _budget_error(outcomes, deadline, seconds)
            self._save_health(db, group, outcomes, now_s, seconds, budget_error)
        if budget_error:
            log.warning("rule_group_over_budget", group=group.name, reason=budget_error)
        write_alert_series(self.store, tenant_id, before, after, now_ms)
        EVALUATION_SECONDS.observe(seconds)
        return GroupResult(
            group=group.name,
            seconds=seconds,
            states=states,
            notifications=transitions.queued,
            errors={o.rule.name: o.error for o in outcomes if o.error},
            budget_error=budget_error,
        )

    # -- queries ----------------------------------------------------------------------------

    def _run_queries(
        self, tenant_id: str, rule: CompiledRule, now_ms: int, deadline: Deadline | None
    ) -> RuleOutcome:
        outcome = RuleOutcome(rule)
        started = time.perf_counter()
        if deadline is not None and time.monotonic() > deadline.at:
            outcome.error = outcome.budget_error = (
                f"not evaluated: the group went over its evaluation budget of "
                f"{deadline.seconds:g}s ({BUDGET_LIMIT})"
            )
            EVALUATION_FAILURES.labels(rule.kind).inc()
            return outcome
        EVALUATIONS.labels(rule.kind).inc()
        try:
            if rule.kind == "recording":
                self._record(tenant_id, rule, now_ms)
            elif rule.spec.type == "forecast" and rule.spec.model is not None:
                self._forecasts.evaluate(self.query, tenant_id, rule, outcome, now_ms, deadline)
            elif rule.spec.type != "composite":
                samples = self._vector(tenant_id, rule.query, now_ms)
                outcome.candidates = candidates(rule, samples, deadline)
                if rule.resolve_query is not None:
                    resolving = candidates(
                        rule, self._vector(tenant_id, rule.resolve_query, now_ms), deadline
                    )
                    outcome.resolve = set(resolving)
                if rule.crossing_query is not None and outcome.candidates:
                    crossing = self._vector(tenant_id, rule.crossing_query, now_ms)
                    add_crossing(outcome, crossing, now_ms)
        except (QueryError, TemplateError, CardinalityLimitError, ValueError) as exc:
            outcome.error = exc.message if isinstance(exc, QueryError) else str(exc)
            if isinstance(exc, TemplateError) and exc.limit:
                outcome.budget_error = outcome.error
            outcome.candidates = {}
            EVALUATION_FAILURES.labels(rule.kind).inc()
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _vector(self, tenant_id: str, query: str, now_ms: int) -> Vector:
        result = self.query.instant_query(tenant_id, query, now_ms)
        if isinstance(result, ScalarResult):
            return [({}, result.value)]
        if not isinstance(result, VectorResult):
            raise ValueError(f"rule result is a {result.result_type}, not a vector or scalar")
        return [(dict(s.labels), s.value) for s in result.samples]

    def _record(self, tenant_id: str, rule: CompiledRule, now_ms: int) -> None:
        name = rule.spec.record or ""
        batch = []
        for labels, value in self._vector(tenant_id, rule.query, now_ms):
            labels.update(rule.spec.labels)
            labels[METRIC_NAME_LABEL] = name
            batch.append(
                SeriesSamples(
                    labels_from_dict(labels),
                    np.array([now_ms], dtype=np.int64),
                    np.array([value], dtype=np.float64),
                )
            )
        if len({s.labels for s in batch}) != len(batch):
            raise ValueError(
                "vector contains metrics with the same labelset after applying rule labels"
            )
        if batch:
            result = self.store.append(tenant_id, batch)
            if result.errors:
                raise ValueError(f"writing the recorded series failed: {result.errors[0]}")

    @staticmethod
    def _limit(outcome: RuleOutcome, limit: int) -> None:
        if limit and len(outcome.candidates) > limit:
            outcome.error = f"exceeded limit of {limit} with {len(outcome.candidates)} alerts"
            outcome.candidates = {}
            EVALUATION_FAILURES.labels(outcome.rule.kind).inc()

    def _url(self, rule: CompiledRule) -> str:
        return f"{self.external_url}/graph?g0.expr={quote(rule.query, safe='')}&g0.tab=1"

    @staticmethod
    def _save_health(
        db: Session,
        group: CompiledGroup,
        outcomes: list[RuleOutcome],
        now_s: float,
        seconds: float,
        budget_error: str,
    ) -> None:
        row = db.scalar(select(AlertRuleGroup).where(AlertRuleGroup.name == group.name))
        if row is None:  # evaluated without being stored (a test, a dry run)
            return
        at = utc(now_s)
        row.last_evaluation = at
        row.evaluation_seconds = seconds
        # `groupError` (in every rule's entry: the column has no group-level slot) says why
        # the whole group is unhealthy; the rules API shows it as the group's health.
        row.rule_health = {
            o.rule.name: {
                "health": "err" if o.error or o.template_errors else "ok",
                "lastError": o.error or "; ".join(o.template_errors),
                "evaluationTime": o.seconds,
                "lastEvaluation": at.isoformat().replace("+00:00", "Z"),
                "groupError": budget_error,
            }
            for o in outcomes
        }


def _budget_error(outcomes: list[RuleOutcome], deadline: Deadline | None, seconds: float) -> str:
    """Why the group is unhealthy for its budget: the first limit one of its rules hit, or the
    group's own budget when the evaluation took longer."""
    for outcome in outcomes:
        if outcome.budget_error:
            return outcome.budget_error
    if deadline is not None and seconds > deadline.seconds:
        return (
            f"evaluation took {seconds:.3g}s, over the group's budget of "
            f"{deadline.seconds:g}s ({BUDGET_LIMIT})"
        )
    return ""
