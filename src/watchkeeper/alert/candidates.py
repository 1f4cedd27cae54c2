"""Rule kinds to candidates: the alerts one evaluation of a rule proposes, before state changes.

A threshold or anomaly rule's query result, a composite rule's component alerts and a forecast
rule's model crossings all become `Candidate`s keyed by fingerprint; the state machine
(`machine.py`) then decides what each one means for the stored alerts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from watchkeeper.alert.model import fingerprint
from watchkeeper.alert.rules import CompiledGroup, CompiledRule
from watchkeeper.db.tables import AlertInstance
from watchkeeper.domain.series import METRIC_NAME_LABEL, labels_from_dict
from watchkeeper.domain.times import rfc3339, utc
from watchkeeper.query import Engine
from watchkeeper.template_sandbox import Deadline

Vector = list[tuple[dict[str, str], float]]
"""An instant query's samples as (labels, value) pairs."""

MODEL_REFIT_SECONDS = 900.0
"""Forecast rules with a model refit their series at most this often."""
MODEL_MAX_SERIES = 200


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


def rfc3339_at(seconds: float) -> str:
    return rfc3339(utc(seconds))


def candidates(
    rule: CompiledRule, samples: Vector, deadline: Deadline | None
) -> dict[str, Candidate]:
    """The rule's labels rendered over each sample; two samples with one labelset are an error,
    as in Prometheus."""
    out: dict[str, Candidate] = {}
    for series, value in samples:
        series.pop(METRIC_NAME_LABEL, None)
        labels = dict(series)
        for key, template in rule.labels.items():
            labels[key] = template.render(labels=series, value=value, deadline=deadline)
        labels["alertname"] = rule.name
        labels = {k: v for k, v in labels.items() if v != ""}
        key = fingerprint(labels)
        if key in out:
            raise ValueError(
                "vector contains metrics with the same labelset after applying alert labels"
            )
        out[key] = Candidate(labels, series, value)
    return out


def composite(
    rule: CompiledRule,
    firing_by_rule: Mapping[str, list[AlertInstance]],
    group: CompiledGroup,
    deadline: Deadline | None,
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
    return candidates(rule, samples, deadline)


def add_crossing(outcome: RuleOutcome, crossing: Vector, now_ms: int) -> None:
    """Forecast rules: when each series is predicted to cross the threshold (`crossing` is the
    rule's crossing query, seconds from now per series)."""
    by_series = {tuple(sorted(labels.items())): seconds for labels, seconds in crossing}
    for candidate in outcome.candidates.values():
        seconds = by_series.get(tuple(sorted(candidate.series.items())))
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            continue
        at = utc(now_ms / 1000 + seconds)
        candidate.extra["predicted_crossing_at"] = at.isoformat().replace("+00:00", "Z")
        candidate.extra["predicted_crossing_in_seconds"] = round(seconds, 3)


class ModelForecasts:
    """Forecast rules with a `model`, with their fits kept between evaluations."""

    def __init__(self) -> None:
        self._fits: dict[tuple[str, str, str, str], tuple[float, list[Any]]] = {}

    def evaluate(
        self,
        query: Engine,
        tenant_id: str,
        rule: CompiledRule,
        outcome: RuleOutcome,
        now_ms: int,
        deadline: Deadline | None,
    ) -> None:
        """Fit the forecasting engine's model on each selected series and fire for those whose
        expected (mean) forecast reaches the threshold within `within`; the predicted time and
        its 80 % interval go into the alert.

        Fits are reused for `MODEL_REFIT_SECONDS` (a fit takes 0.1 to 1 s per series); the
        crossing times they give are compared with the clock at every evaluation.
        """
        from watchkeeper.detect.forecast.threshold import threshold_crossing
        from watchkeeper.detect.predict import forecast_expression

        spec = rule.spec
        assert spec.threshold is not None and spec.within is not None and spec.model
        now = now_ms / 1000
        key = (tenant_id, spec.name, spec.selector or "", spec.model)
        cached = self._fits.get(key)
        if cached is None or now - cached[0] >= MODEL_REFIT_SECONDS:
            history = spec.lookback if "lookback" in spec.model_fields_set else 7 * 86_400.0
            batch = forecast_expression(
                query,
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
            self._fits[key] = cached
        rising = spec.direction == "above"
        firing: list[tuple[dict[str, str], float, dict[str, Any]]] = []
        holding: Vector = []
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
                    "predicted_crossing_at": rfc3339_at(max(at, now)),
                    "predicted_crossing_in_seconds": round(max(at - now, 0.0), 3),
                }
                if crossing.earliest80 is not None:
                    extra["predicted_crossing_earliest80"] = rfc3339_at(
                        max(crossing.earliest80, now)
                    )
                if crossing.latest80 is not None:
                    extra["predicted_crossing_latest80"] = rfc3339_at(max(crossing.latest80, now))
                firing.append((dict(item.labels), last_value, extra))
        outcome.candidates = candidates(rule, [(labels, v) for labels, v, _ in firing], deadline)
        for candidate, (_, _, extra) in zip(outcome.candidates.values(), firing, strict=True):
            candidate.extra.update(extra)
        if spec.resolve_threshold is not None:
            outcome.resolve = set(candidates(rule, holding, deadline))


def explain(db: Session, outcome: RuleOutcome) -> None:
    """Anomaly rules: the detection loop's latest explanation of each scored series."""
    # Imported here: the detect package loads numba, which plain threshold rules never need.
    from watchkeeper.detect.series_input import series_hash, series_text
    from watchkeeper.detect.service import latest_anomaly

    for candidate in outcome.candidates.values():
        original = {
            ("metric" if k == "exported_metric" else k): v
            for k, v in candidate.series.items()
            if k != "metric"
        }
        original[METRIC_NAME_LABEL] = candidate.series.get("metric", "")
        record = latest_anomaly(db, series_hash(series_text(labels_from_dict(original))))
        if record is not None:
            candidate.extra["explanation"] = {
                "sentence": record.sentence,
                "at": record.at.isoformat().replace("+00:00", "Z"),
                **record.explanation,
            }
