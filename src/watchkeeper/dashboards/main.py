"""The built-in Main dashboard: system overview, active alerts by priority, trends with AI
predictions, service health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import prometheus as prom

from watchkeeper.dashboards.panels import (
    HOST,
    board,
    gauge_panel,
    heatmap_panel,
    open_incidents,
    stat_panel,
    table_panel,
    table_target,
    target,
    time_series,
)

UID = "watchkeeper-main"
SCORE_THRESHOLD = 0.5
"""The detectors' default decision threshold (`Detector.threshold`): a score at or above it
is an anomaly event."""

CPU_BUSY = (
    f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle", {HOST}}}[$__rate_interval]))'
)
MEMORY_USED = (
    f"1 - sum by (instance) (node_memory_MemAvailable_bytes{{{HOST}}})"
    f" / sum by (instance) (node_memory_MemTotal_bytes{{{HOST}}})"
)


def _forecast(metric: str, horizon: str, bounds: str = "mean|lo80|hi80") -> str:
    return (
        f'watchkeeper_forecast{{metric="{metric}", horizon="{horizon}", bound=~"{bounds}", {HOST}}}'
    )


def _with_forecast(title: str, metric: str, unit: str = "short") -> timeseries.Panel:
    """A host metric with its 1 h forecast's mean and 80 % band drawn over it."""
    return time_series(
        title,
        target(f"{metric}{{{HOST}}}", legend="{{instance}}"),
        target(_forecast(metric, "1h"), legend="{{instance}} forecast {{bound}}", ref="B"),
        unit=unit,
        width=8,
    )


def build() -> dash.Dashboard:
    firing = 'ALERTS{alertstate="firing"}'
    return (
        board(
            UID,
            "Watchkeeper / Main",
            "System overview, firing alerts by priority, host trends with the forecaster's "
            "predictions, and the health of scrape targets and of Watchkeeper itself.",
            ["overview"],
        )
        .with_row(dash.Row("System overview"))
        .with_panel(
            stat_panel(
                "Firing alerts",
                target(f"count({firing}) or vector(0)", instant=True),
                red_above=1,
            )
        )
        .with_panel(open_incidents("From Watchkeeper's own /metrics (scrape job `watchkeeper`)."))
        .with_panel(
            stat_panel(
                "Anomalous series",
                target(
                    f"count(watchkeeper_anomaly_score{{{HOST}}} >= {SCORE_THRESHOLD}) or vector(0)",
                    instant=True,
                ),
                red_above=1,
                description="Series whose latest anomaly score is at or above the threshold.",
            )
        )
        .with_panel(
            stat_panel(
                "Targets down",
                target('count(up{job=~"$job"} == 0) or vector(0)', instant=True),
                red_above=1,
            )
        )
        .with_panel(gauge_panel("CPU busy", target(f"avg({CPU_BUSY})", instant=True)))
        .with_panel(gauge_panel("Memory used", target(f"max({MEMORY_USED})", instant=True)))
        .with_row(dash.Row("Active alerts by priority"))
        .with_panel(
            time_series(
                "Firing alerts by severity",
                target(f"count by (severity) ({firing})", legend="{{severity}}"),
            )
        )
        .with_panel(
            table_panel(
                "Firing alerts",
                table_target(f"sort_desc({firing})"),
            )
        )
        .with_row(dash.Row("Trends with AI predictions"))
        .with_panel(
            time_series(
                "CPU busy",
                target(CPU_BUSY, legend="{{instance}}"),
                unit="percentunit",
                width=8,
            )
        )
        .with_panel(
            _with_forecast(
                "Memory available, with the 1 h forecast (80 % band)",
                "node_memory_MemAvailable_bytes",
                unit="bytes",
            )
        )
        .with_panel(_with_forecast("Load (1 m), with the 1 h forecast (80 % band)", "node_load1"))
        .with_row(dash.Row("Service health"))
        .with_panel(
            table_panel(
                "Scrape targets",
                table_target('up{job=~"$job"}'),
                width=8,
            )
        )
        .with_panel(
            time_series(
                "Watchkeeper workers up",
                target("watchkeeper_worker_up", legend="{{worker}}"),
                width=8,
            )
        )
        .with_panel(
            time_series(
                "HTTP 5xx ratio",
                target(
                    '(sum(rate(watchkeeper_http_requests_total{status=~"5.."}[$__rate_interval]))'
                    " or vector(0)) / sum(rate(watchkeeper_http_requests_total[$__rate_interval]))",
                    legend="5xx",
                ),
                unit="percentunit",
                width=8,
            )
        )
        .with_panel(
            heatmap_panel(
                "HTTP latency distribution",
                target(
                    "sum by (le) (rate(watchkeeper_http_request_duration_seconds_bucket"
                    "[$__rate_interval]))",
                    legend="{{le}}",
                    fmt=prom.PromQueryFormat.HEATMAP,
                ),
                unit="s",
                width=24,
            )
        )
    )
