"""The live forecast loop: forecasts the selected series and writes the forecasts back as
series, so PromQL, dashboards and alert rules read them like any other metric.

Every `forecast_interval_seconds`, per tenant and selector, each matching gauge is resampled
over `forecast_history_hours` (see `predict.forecast_expression`), fitted with the configured
forecaster, and for every configured horizon `h` the loop appends, at the pass time `t`:

    watchkeeper_forecast{<labels>, metric="<name>", horizon="6h", bound="mean"}  = forecast of t + h
    ... bound="lo80" | "hi80" | "lo95" | "hi95"                                 = its intervals

Writing "the value expected h from now" at the current time, rather than samples in the
future, keeps the store append-only and in order (no overwriting future points on every pass)
and gives alert rules a plain comparison: `watchkeeper_forecast{metric="disk_used_percent",
horizon="6h", bound="mean"} > 95` reads "predicted above 95 % six hours from now", and
`bound="hi95"` the cautious version. The value between two grid points is interpolated.

Counters (`*_total`, ...) are skipped: their raw value only climbs, and what an operator plans
on is their rate; forecast `rate(x[5m])` through `GET /ai/predictions` instead. Series the loop
writes itself (scores, forecasts) are never forecast.

Every pass refits every series from scratch, so every pass also publishes one `prediction`
event per series it forecast (`events/bus.py`, for `/ws/notifications`) with the same
figures; at most `forecast_max_events` per tenant and pass, so a tenant forecasting thousands
of series does not flood its clients or the event log (the rest are counted and logged; the
series and `GET /ai/predictions` still have them).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import numpy as np
import structlog
from prometheus_client import Counter, Gauge

from watchkeeper.clock import Clock
from watchkeeper.config import DetectionSettings, parse_duration_or_seconds_ms
from watchkeeper.detect.predict import SeriesForecast, forecast_expression
from watchkeeper.detect.series_input import FORECAST_METRIC, OUTPUT_METRICS, is_counter
from watchkeeper.domain.series import METRIC_NAME_LABEL, SeriesSamples
from watchkeeper.events import publish
from watchkeeper.query import Engine
from watchkeeper.runtime.tenant_pass import each_tenant, enabled_tenants
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.store.base import CardinalityLimitError, MetricStore
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

BOUNDS = ("mean", "lo80", "hi80", "lo95", "hi95")

SERIES_FORECAST = Counter("watchkeeper_forecast_series", "Series forecast by the forecast loop")
SERIES_SKIPPED = Counter(
    "watchkeeper_forecast_series_skipped", "Series the forecast loop could not forecast"
)
PASS_SECONDS = Gauge("watchkeeper_forecast_pass_seconds", "Duration of the last forecast pass")
EVENTS_PUBLISHED = Counter(
    "watchkeeper_forecast_events", "prediction events the forecast loop published"
)
EVENTS_DROPPED = Counter(
    "watchkeeper_forecast_events_dropped",
    "prediction events not published: over forecast_max_events in a tenant's pass",
)


@dataclass
class ForecastPass:
    tenants: int = 0
    series: int = 0
    samples_written: int = 0
    events: int = 0
    events_dropped: int = 0
    skipped: list[str] = field(default_factory=list)
    tenant_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def forecast_labels(
    labels: dict[str, str], horizon: str, bound: str
) -> tuple[tuple[str, str], ...]:
    """The labels of a forecast series: like the score series' (`metric` for the name, an
    original `metric` label kept as `exported_metric`), plus `horizon` and `bound`; original
    `horizon`/`bound` labels are kept as `exported_horizon`/`exported_bound`."""
    out: dict[str, str] = {}
    for key, value in labels.items():
        if key == METRIC_NAME_LABEL:
            out["metric"] = value
        elif key in ("metric", "horizon", "bound"):
            out[f"exported_{key}"] = value
        else:
            out[key] = value
    out.update({METRIC_NAME_LABEL: FORECAST_METRIC, "horizon": horizon, "bound": bound})
    return tuple(sorted(out.items()))


def horizon_values(item: SeriesForecast, at: float, bound: str) -> float:
    """The forecast's `bound` at time `at`, interpolated between grid points; the last
    history value anchors the curve at its own time."""
    f = item.forecast
    times = np.concatenate(([item.history.end], f.timestamps))
    anchor = float(item.history.filled()[-1])
    values = np.concatenate(([anchor], getattr(f, bound)))
    return float(np.interp(at, times, values))


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinity (PostgreSQL refuses them in a json column)."""
    return value if math.isfinite(value) else None


def prediction_data(
    item: SeriesForecast,
    *,
    model: str,
    fitted_at: float,
    horizons: list[tuple[str, float]],
    values: dict[tuple[str, str], float],
) -> dict[str, Any]:
    """A `prediction` event's data: the series, the model, and per horizon the figures the
    loop wrote as `watchkeeper_forecast` (`values` by (horizon, bound)), so a UI shows what
    an alert rule on those series sees."""
    labels = {k: v for k, v in item.labels.items() if k != METRIC_NAME_LABEL}
    return {
        "metric": item.labels.get(METRIC_NAME_LABEL, ""),
        "labels": labels,
        "model": model,
        "fitted_at": datetime.fromtimestamp(fitted_at, UTC).isoformat(),
        "horizons": [
            {
                "horizon": horizon,
                "at": datetime.fromtimestamp(fitted_at + seconds, UTC).isoformat(),
                **{bound: _finite(values[horizon, bound]) for bound in BOUNDS},
            }
            for horizon, seconds in horizons
        ],
    }


class ForecastLoop(PeriodicWorker):
    """The forecast loop worker (see the module docstring). Tests call `run_pass` directly."""

    name = "forecast"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        *,
        store: MetricStore,
        engine: Engine,
        sessions: SessionFactory,
        clock: Clock,
        settings: DetectionSettings,
    ) -> None:
        super().__init__(clock, settings.forecast_interval_seconds)
        self.store = store
        self.engine = engine
        self.sessions = sessions
        self.settings = settings
        self.selectors = settings.forecast_selectors or settings.selectors
        self.horizons = [
            (h, parse_duration_or_seconds_ms(h) / 1000) for h in settings.forecast_horizons
        ]
        self._lock = threading.Lock()
        self.last_pass = ForecastPass()

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.run_pass)

    def tenants(self) -> list[str]:
        return enabled_tenants(self.sessions, "forecast loop: list tenants")

    def run_pass(self) -> ForecastPass:
        with self._lock:
            started = time.perf_counter()  # a duration, not a comparison with "now"
            stats = ForecastPass()
            now = self.clock.time()
            tenant_ids = self.tenants()
            stats.tenant_errors += each_tenant(
                tenant_ids,
                lambda tenant_id: self._tenant_pass(tenant_id, now, stats),
                log=log,
                event="forecast_pass_failed",
            )
            stats.tenants += len(tenant_ids)
            stats.seconds = time.perf_counter() - started
            PASS_SECONDS.set(stats.seconds)
            self.last_pass = stats
            return stats

    def _tenant_pass(self, tenant_id: str, now: float, stats: ForecastPass) -> None:
        longest = max(seconds for _, seconds in self.horizons)
        now_ms = round(now * 1000)
        out: list[SeriesSamples] = []
        events: list[dict[str, Any]] = []
        dropped = 0
        remaining = self.settings.forecast_max_series
        for selector in self.selectors:
            if remaining <= 0:
                break
            batch = forecast_expression(
                self.engine,
                tenant_id,
                selector,
                now=now,
                history_hours=self.settings.forecast_history_hours,
                horizon_seconds=longest,
                model=self.settings.forecast_model,
                limit=remaining,
                skip_unforecastable=True,
                keep=_forecastable,
                isolate=self.settings.forecast_in_child,
            )
            remaining -= len(batch.forecasts) + len(batch.skipped)
            stats.skipped.extend(batch.skipped)
            SERIES_SKIPPED.inc(len(batch.skipped))
            for item in batch.forecasts:
                values: dict[tuple[str, str], float] = {}
                for horizon, seconds in self.horizons:
                    for bound in BOUNDS:
                        value = horizon_values(item, now + seconds, bound)
                        values[horizon, bound] = value
                        out.append(
                            SeriesSamples(
                                forecast_labels(item.labels, horizon, bound),
                                np.array([now_ms], dtype=np.int64),
                                np.array([value], dtype=np.float64),
                            )
                        )
                if len(events) < self.settings.forecast_max_events:
                    events.append(
                        prediction_data(
                            item,
                            model=self.settings.forecast_model,
                            fitted_at=now,
                            horizons=self.horizons,
                            values=values,
                        )
                    )
                else:
                    dropped += 1
                stats.series += 1
                SERIES_FORECAST.inc()
        if out:
            try:
                self.store.append(tenant_id, out)
                stats.samples_written += len(out)
            except CardinalityLimitError as exc:
                log.warning("forecasts_not_written", tenant=tenant_id, reason=str(exc))
        # Published even when the store refused the series: the fit happened, and a client
        # has no other live way to hear of it.
        self._publish(tenant_id, now, events, dropped, stats)

    def _publish(
        self,
        tenant_id: str,
        now: float,
        events: list[dict[str, Any]],
        dropped: int,
        stats: ForecastPass,
    ) -> None:
        if events:
            at = datetime.fromtimestamp(now, UTC)
            with self.sessions.tenant(tenant_id) as db:
                for data in events:
                    publish(db, tenant_id, "prediction", data, now=at)
            stats.events += len(events)
            EVENTS_PUBLISHED.inc(len(events))
        if dropped:
            stats.events_dropped += dropped
            EVENTS_DROPPED.inc(dropped)
            log.warning(
                "prediction_events_dropped",
                tenant=tenant_id,
                published=len(events),
                dropped=dropped,
                limit=self.settings.forecast_max_events,
            )


def _forecastable(labels: dict[str, str]) -> bool:
    name = labels.get(METRIC_NAME_LABEL, "")
    return bool(name) and name not in OUTPUT_METRICS and not is_counter(name)
