"""Evaluating a rule group: PromQL through the query engine, then each alert's state machine.

The state machine follows Prometheus' rules/alerting.go, with what Alertmanager users lack:

    inactive -> pending            the condition holds (a new active_at)
    pending  -> firing             it held for `for` (startsAt = that evaluation's time)
    pending  -> inactive           it stopped holding before `for` passed (no notification)
    firing   -> resolved           it stopped holding, and neither hysteresis nor
                                   keep_firing_for keeps it (endsAt = that time)

- Hysteresis: a firing alert whose series still appears in `resolve_expr` stays firing.
- keep_firing_for: a firing alert stays firing this long after the condition last held.
- Flapping: each change into firing or resolved is counted; more than `max_changes` within
  `window_seconds` marks the alert flapping, which queues one "flapping" notification and
  silences the firing/resolved ones until the count falls back; then the current state is
  notified if it differs from the last state notified.
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

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import numpy as np
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.alert.model import fingerprint
from watchkeeper.alert.rules import CompiledGroup, CompiledRule
from watchkeeper.alert.state import (
    FlapPolicy,
    Transitions,
    load_by_fingerprint,
    load_group_alerts,
)
from watchkeeper.alert.templates import Template, TemplateError
from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertInstance, AlertRuleGroup, AnomalyRecord
from watchkeeper.domain.series import (
    METRIC_NAME_LABEL,
    STALE_NAN,
    SeriesSamples,
    labels_from_dict,
)
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
class Candidate:
    """One alert the rule's condition produced this evaluation."""

    labels: dict[str, str]
    series: dict[str, str]
    value: float
    annotations: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuleOutcome:
    """A rule's result before state changes: its candidates, or why it failed."""

    rule: CompiledRule
    candidates: dict[str, Candidate] = field(default_factory=dict)
    resolve: set[str] | None = None
    error: str = ""
    seconds: float = 0.0
    template_errors: list[str] = field(default_factory=list)
    budget_error: str = ""  # a template or the group went over a budget setting


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


def expansion_error(error: str) -> str:
    """The text a failed template expands to, as Prometheus writes it."""
    return f"<error expanding template: {error}>"


MODEL_REFIT_SECONDS = 900.0
"""Forecast rules with a model refit their series at most this often."""
MODEL_MAX_SERIES = 200


def _iso(seconds: float) -> str:
    return _utc(seconds).isoformat().replace("+00:00", "Z")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _since(start: datetime, now: datetime) -> float:
    """Seconds between two stored times (datetimes, so no float rounding at microseconds)."""
    return (now - start).total_seconds()


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
        self._forecasts: dict[tuple[str, str, str, str], tuple[float, list[Any]]] = {}
        self._deadline: Deadline | None = None  # the group being evaluated (one at a time)

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
            before = _active_series(rows.values())
            transitions = Transitions(db, now_s, self.flap)
            firing_by_rule: dict[str, list[AlertInstance]] = {}
            for outcome in outcomes:
                rule = outcome.rule
                if rule.kind != "alerting":
                    continue
                if rule.spec.type == "composite" and not outcome.error:
                    outcome.candidates = self._composite(rule, firing_by_rule, group)
                self._limit(outcome, group.spec.limit)
                if rule.spec.type == "anomaly" and not outcome.error:
                    self._explain(db, outcome)
                machine = _Machine(transitions, group.name, rule, self._url(rule), deadline)
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
            after = _active_series(rows.values())
            seconds = time.perf_counter() - started
            budget_error = _budget_error(outcomes, deadline, seconds)
            self._save_health(db, group, outcomes, now_s, seconds, budget_error)
        if budget_error:
            log.warning("rule_group_over_budget", group=group.name, reason=budget_error)
        self._write_alert_series(tenant_id, before, after, now_ms)
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
        self._deadline = deadline
        EVALUATIONS.labels(rule.kind).inc()
        try:
            if rule.kind == "recording":
                self._record(tenant_id, rule, now_ms)
            elif rule.spec.type == "forecast" and rule.spec.model is not None:
                self._model_forecast(tenant_id, rule, outcome, now_ms)
            elif rule.spec.type != "composite":
                samples = self._vector(tenant_id, rule.query, now_ms)
                outcome.candidates = self._candidates(rule, samples)
                if rule.resolve_query is not None:
                    resolving = self._candidates(
                        rule, self._vector(tenant_id, rule.resolve_query, now_ms)
                    )
                    outcome.resolve = set(resolving)
                if rule.crossing_query is not None and outcome.candidates:
                    self._add_crossing(tenant_id, rule, outcome, now_ms)
        except (QueryError, TemplateError, CardinalityLimitError, ValueError) as exc:
            outcome.error = exc.message if isinstance(exc, QueryError) else str(exc)
            if isinstance(exc, TemplateError) and exc.limit:
                outcome.budget_error = outcome.error
            outcome.candidates = {}
            EVALUATION_FAILURES.labels(rule.kind).inc()
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _vector(
        self, tenant_id: str, query: str, now_ms: int
    ) -> list[tuple[dict[str, str], float]]:
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

    def _candidates(
        self, rule: CompiledRule, samples: list[tuple[dict[str, str], float]]
    ) -> dict[str, Candidate]:
        out: dict[str, Candidate] = {}
        for series, value in samples:
            series.pop(METRIC_NAME_LABEL, None)
            labels = dict(series)
            for key, template in rule.labels.items():
                labels[key] = template.render(labels=series, value=value, deadline=self._deadline)
            labels["alertname"] = rule.name
            labels = {k: v for k, v in labels.items() if v != ""}
            key = fingerprint(labels)
            if key in out:
                raise ValueError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            out[key] = Candidate(labels, series, value)
        return out

    def _model_forecast(
        self, tenant_id: str, rule: CompiledRule, outcome: RuleOutcome, now_ms: int
    ) -> None:
        """Forecast rules with a `model`: fit the forecasting engine's model on each selected
        series and fire for those whose expected (mean) forecast reaches the threshold within
        `within`; the predicted time and its 80 % interval go into the alert.

        Fits are reused for `MODEL_REFIT_SECONDS` (a fit takes 0.1 to 1 s per series); the
        crossing times they give are compared with the clock at every evaluation.
        """
        from watchkeeper.detect.forecast.threshold import threshold_crossing
        from watchkeeper.detect.predict import forecast_expression

        spec = rule.spec
        assert spec.threshold is not None and spec.within is not None and spec.model
        now = now_ms / 1000
        key = (tenant_id, spec.name, spec.selector or "", spec.model)
        cached = self._forecasts.get(key)
        if cached is None or now - cached[0] >= MODEL_REFIT_SECONDS:
            history = spec.lookback if "lookback" in spec.model_fields_set else 7 * 86_400.0
            batch = forecast_expression(
                self.query,
                tenant_id,
                spec.selector or "",
                now=now,
                history_hours=history / 3600,
                horizon_seconds=max(spec.within, MODEL_REFIT_SECONDS),
                model=spec.model,
                limit=MODEL_MAX_SERIES,
                skip_unforecastable=True,
            )
            cached = (now, batch.forecasts)
            self._forecasts[key] = cached
        rising = spec.direction == "above"
        firing: list[tuple[dict[str, str], float, dict[str, Any]]] = []
        holding: list[tuple[dict[str, str], float]] = []
        for item in cached[1]:
            finite = np.flatnonzero(np.isfinite(item.history.values))
            last = int(finite[-1])
            last_time = item.history.start + item.history.step * last
            last_value = float(item.history.values[last])
            for threshold, out in ((spec.threshold, "fire"), (spec.resolve_threshold, "hold")):
                if threshold is None:
                    continue
                crossing = threshold_crossing(
                    item.forecast, threshold, last_time, last_value, rising=rising
                )
                at = now if crossing.already else crossing.expected
                if at is None or at - now > spec.within:
                    continue
                if out == "hold":
                    holding.append((dict(item.labels), last_value))
                    continue
                extra: dict[str, Any] = {
                    "predicted_crossing_at": _iso(max(at, now)),
                    "predicted_crossing_in_seconds": round(max(at - now, 0.0), 3),
                }
                if crossing.earliest80 is not None:
                    extra["predicted_crossing_earliest80"] = _iso(max(crossing.earliest80, now))
                if crossing.latest80 is not None:
                    extra["predicted_crossing_latest80"] = _iso(max(crossing.latest80, now))
                firing.append((dict(item.labels), last_value, extra))
        outcome.candidates = self._candidates(rule, [(labels, v) for labels, v, _ in firing])
        for candidate, (_, _, extra) in zip(outcome.candidates.values(), firing, strict=True):
            candidate.extra.update(extra)
        if spec.resolve_threshold is not None:
            outcome.resolve = set(self._candidates(rule, holding))

    def _add_crossing(
        self, tenant_id: str, rule: CompiledRule, outcome: RuleOutcome, now_ms: int
    ) -> None:
        """Forecast rules: when each series is predicted to cross the threshold."""
        assert rule.crossing_query is not None
        crossing = {
            tuple(sorted(labels.items())): seconds
            for labels, seconds in self._vector(tenant_id, rule.crossing_query, now_ms)
        }
        for candidate in outcome.candidates.values():
            seconds = crossing.get(tuple(sorted(candidate.series.items())))
            if seconds is None or not math.isfinite(seconds) or seconds < 0:
                continue
            at = _utc(now_ms / 1000 + seconds)
            candidate.extra["predicted_crossing_at"] = at.isoformat().replace("+00:00", "Z")
            candidate.extra["predicted_crossing_in_seconds"] = round(seconds, 3)

    def _composite(
        self,
        rule: CompiledRule,
        firing_by_rule: Mapping[str, list[AlertInstance]],
        group: CompiledGroup,
    ) -> dict[str, Candidate]:
        """Keys (values of the `by` labels) where all (any) of the named rules fire."""
        by = rule.spec.by
        keyed: list[dict[tuple[str, ...], int]] = []
        for name in rule.components:
            counts: dict[tuple[str, ...], int] = {}
            for row in firing_by_rule.get(name, []):
                key = tuple(row.labels.get(label, "") for label in by)
                counts[key] = counts.get(key, 0) + 1
            keyed.append(counts)
        if rule.spec.all_of is not None:
            keys = set.intersection(*(set(k) for k in keyed)) if keyed else set()
        else:
            keys = set().union(*(set(k) for k in keyed))
        samples = []
        for key in sorted(keys):
            series = {label: value for label, value in zip(by, key, strict=True) if value}
            samples.append((series, float(sum(1 for k in keyed if key in k))))
        return self._candidates(rule, samples)

    @staticmethod
    def _limit(outcome: RuleOutcome, limit: int) -> None:
        if limit and len(outcome.candidates) > limit:
            outcome.error = f"exceeded limit of {limit} with {len(outcome.candidates)} alerts"
            outcome.candidates = {}
            EVALUATION_FAILURES.labels(outcome.rule.kind).inc()

    @staticmethod
    def _explain(db: Session, outcome: RuleOutcome) -> None:
        """Anomaly rules: the detection loop's latest explanation of each scored series."""
        # Imported here: the detect package loads numba, which plain threshold rules never need.
        from watchkeeper.detect.series_input import series_hash, series_text

        for candidate in outcome.candidates.values():
            original = {
                ("metric" if k == "exported_metric" else k): v
                for k, v in candidate.series.items()
                if k != "metric"
            }
            original[METRIC_NAME_LABEL] = candidate.series.get("metric", "")
            digest = series_hash(series_text(labels_from_dict(original)))
            record = db.scalar(
                select(AnomalyRecord)
                .where(AnomalyRecord.series_hash == digest)
                .order_by(AnomalyRecord.at.desc())
                .limit(1)
            )
            if record is not None:
                candidate.extra["explanation"] = {
                    "sentence": record.sentence,
                    "at": record.at.isoformat().replace("+00:00", "Z"),
                    **record.explanation,
                }

    def _write_alert_series(
        self,
        tenant_id: str,
        before: dict[tuple[str, str], _AlertSeries],
        after: dict[tuple[str, str], _AlertSeries],
        now_ms: int,
    ) -> None:
        """Prometheus' `ALERTS{alertstate}` (1) and `ALERTS_FOR_STATE` (activeAt, seconds) for
        every pending or firing alert, and staleness markers for those no longer so, as
        rules/alerting.go writes them. Written after the state commits (the store is not
        transactional with it); `before` comes from the database, so a restart still marks
        series that went stale while the process was down at the next evaluation."""
        batch: list[SeriesSamples] = []
        gone_for_state = {key[0] for key in before} - {key[0] for key in after}
        for (key, state), series in before.items():
            if (key, state) not in after:
                batch.append(_sample(series.alerts_labels(state), now_ms, STALE_NAN))
            if key in gone_for_state and state == series.state:
                batch.append(_sample(series.for_state_labels(), now_ms, STALE_NAN))
        for (_, state), series in after.items():
            batch.append(_sample(series.alerts_labels(state), now_ms, 1.0))
            batch.append(_sample(series.for_state_labels(), now_ms, series.active_at))
        if not batch:
            return
        try:
            result = self.store.append(tenant_id, batch)
        except CardinalityLimitError as exc:
            log.warning("alert_series_not_written", error=str(exc))
            return
        if result.errors:
            log.warning("alert_series_refused", first=result.errors[0])

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
        at = _utc(now_s)
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


@dataclass(frozen=True)
class _AlertSeries:
    """What an active alert's ALERTS and ALERTS_FOR_STATE series are made of."""

    labels: dict[str, str]
    state: str
    active_at: float

    def alerts_labels(self, state: str) -> dict[str, str]:
        return {**self.labels, METRIC_NAME_LABEL: "ALERTS", "alertstate": state}

    def for_state_labels(self) -> dict[str, str]:
        return {**self.labels, METRIC_NAME_LABEL: "ALERTS_FOR_STATE"}


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


def _active_series(rows: Iterable[AlertInstance]) -> dict[tuple[str, str], _AlertSeries]:
    return {
        (row.fingerprint, row.state): _AlertSeries(
            dict(row.labels), row.state, row.active_at.timestamp()
        )
        for row in rows
        if row.state in ("pending", "firing")
    }


def _sample(labels: dict[str, str], at_ms: int, value: float) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict(labels),
        np.array([at_ms], dtype=np.int64),
        np.array([value], dtype=np.float64),
    )


class _Machine:
    """One rule's alerts through one evaluation (see the module docstring)."""

    def __init__(
        self,
        transitions: Transitions,
        group: str,
        rule: CompiledRule,
        url: str,
        deadline: Deadline | None = None,
    ) -> None:
        self.t = transitions
        self.group = group
        self.rule = rule
        self.url = url
        self.deadline = deadline

    def run(self, rows: dict[str, AlertInstance], outcome: RuleOutcome) -> None:
        if outcome.error:  # as in Prometheus: a failed evaluation changes no alert
            return
        t, spec = self.t, self.rule.spec
        reused = load_by_fingerprint(
            t.db, self.group, [k for k in outcome.candidates if k not in rows]
        )
        for key, candidate in outcome.candidates.items():
            row = rows.get(key) or reused.get(key)
            if row is None:
                row = self._new_row(key, candidate)
                t.db.add(row)
            rows[key] = row
            self._update(row, candidate, outcome)
            row.keep_firing_since = None
            if row.state not in ("pending", "firing"):
                t.change(row, "pending")
                row.active_at, row.fired_at, row.ends_at = t.now, None, None
            if row.state == "pending" and _since(row.active_at, t.now) >= spec.for_:
                row.fired_at = t.now
                t.change(row, "firing")
        for key, row in rows.items():
            if row.rule_name != self.rule.name:
                continue
            if key not in outcome.candidates:
                row.last_evaluation = t.now
                if row.state == "pending":
                    t.change(row, "inactive")
                elif row.state == "firing" and not self._held(row, key, outcome):
                    row.ends_at = t.now
                    t.change(row, "resolved")
            t.flap_expiry(row)

    def _new_row(self, key: str, candidate: Candidate) -> AlertInstance:
        return AlertInstance(
            group_name=self.group,
            rule_name=self.rule.name,
            fingerprint=key,
            labels=candidate.labels,
            annotations={},
            state="inactive",
            value=candidate.value,
            active_at=self.t.now,
            last_evaluation=self.t.now,
            flapping=False,
            changes=[],
            generator_url=self.url,
        )

    def _update(self, row: AlertInstance, candidate: Candidate, outcome: RuleOutcome) -> None:
        """Current value and rendered annotations (what a notification will carry)."""
        row.value = candidate.value
        row.last_evaluation = self.t.now
        row.rule_name = self.rule.name
        row.labels = candidate.labels
        row.generator_url = self.url
        annotations = {
            key: self._expand(key, template, candidate, outcome)
            for key, template in self.rule.annotations.items()
        }
        explanation = candidate.extra.get("explanation")
        if explanation is not None:
            row.explanation = explanation
            annotations.setdefault("explanation", str(explanation.get("sentence", "")))
        for key in (
            "predicted_crossing_at",
            "predicted_crossing_in_seconds",
            "predicted_crossing_earliest80",
            "predicted_crossing_latest80",
        ):
            if key in candidate.extra:
                annotations.setdefault(key, str(candidate.extra[key]))
        if annotations != row.annotations:
            row.annotations = annotations

    def _expand(
        self, key: str, template: Template, candidate: Candidate, outcome: RuleOutcome
    ) -> str:
        """One annotation; a failure expands to Prometheus' error text, noted on the rule."""
        try:
            return template.render(
                labels=candidate.series, value=candidate.value, deadline=self.deadline
            )
        except TemplateError as exc:
            problem = f"annotation {key}: {exc}"
            if problem not in outcome.template_errors and len(outcome.template_errors) < 3:
                outcome.template_errors.append(problem)
            if exc.limit and not outcome.budget_error:
                outcome.budget_error = problem
            return expansion_error(str(exc))

    def _held(self, row: AlertInstance, key: str, outcome: RuleOutcome) -> bool:
        """Whether hysteresis or keep_firing_for keeps a firing alert firing."""
        if outcome.resolve is not None and key in outcome.resolve:
            row.keep_firing_since = None
            return True
        keep = self.rule.spec.keep_firing_for
        if keep <= 0:
            return False
        if row.keep_firing_since is None:
            row.keep_firing_since = self.t.now
        return _since(row.keep_firing_since, self.t.now) < keep
