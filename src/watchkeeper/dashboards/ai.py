"""The built-in AI dashboard: anomalies, predictions with confidence intervals, model
performance (precision from operators' feedback, detection latency, scoring throughput) and
where anomalies and alerts coincide.

Anomaly explanations (expected band, contributing features, pattern) are records, not series:
the table links to the console's anomaly page (`/ai/anomalies` in the API) for them.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom

from watchkeeper.dashboards.main import SCORE_THRESHOLD
from watchkeeper.dashboards.panels import (
    HOST,
    board,
    gauge_panel,
    heatmap_panel,
    query_variable,
    table_panel,
    table_target,
    target,
    time_series,
)

UID = "watchkeeper-ai"
FEEDBACK_METRIC = "watchkeeper_anomaly_feedback_total"
"""Operators' verdicts on anomaly events, `verdict="true_positive"|"false_positive"`: written
by the feedback feature when it lands; until then the precision panel shows "no data"."""

SCORES = f"watchkeeper_anomaly_score{{{HOST}}}"


def forecast(bound: str) -> str:
    """The chosen metric's forecast `$horizon` ahead; `bound` is a regex over mean, lo80, ..."""
    return (
        f'watchkeeper_forecast{{metric=~"$metric", horizon="$horizon", bound=~"{bound}", {HOST}}}'
    )


def _prediction_variables(board_: dash.Dashboard) -> dash.Dashboard:
    metric = query_variable(
        "metric", "Forecast metric", 'label_values(watchkeeper_forecast{job=~"$job"}, metric)'
    )
    horizon = (
        dash.CustomVariable("horizon")
        .label("Horizon")
        .values("1h,6h,24h")
        .current(model.VariableOption(selected=True, text="1h", value="1h"))
    )
    return board_.with_variable(metric).with_variable(horizon)


def build() -> dash.Dashboard:
    feedback = f"sum by (verdict) (increase({FEEDBACK_METRIC}[30d]))"
    return (
        _prediction_variables(
            board(
                UID,
                "Watchkeeper / AI",
                "Anomaly scores and events, forecasts with their 80 % and 95 % intervals, "
                "how the detectors perform, and where anomalies and alerts coincide.",
                ["ai"],
            )
        )
        .with_row(dash.Row("Anomalies"))
        .with_panel(
            time_series(
                "Anomaly score (max per metric and instance)",
                target(f"max by (metric, instance) ({SCORES})", legend="{{metric}} {{instance}}"),
                description=f"Scores in [0, 1]; {SCORE_THRESHOLD} and above is an anomaly event.",
                width=16,
            )
        )
        .with_panel(
            table_panel(
                "Anomalous now",
                table_target(f"sort_desc({SCORES} >= {SCORE_THRESHOLD})"),
                description="Series at or above the threshold now. Explanations (expected "
                "value, pattern, contributing features): the console's Anomalies page.",
                width=8,
            )
        )
        .with_panel(
            heatmap_panel(
                "Anomaly scores per series",
                target(
                    f"max by (metric, instance) (max_over_time({SCORES}[$__rate_interval]))",
                    legend="{{metric}} {{instance}}",
                    fmt=prom.PromQueryFormat.TIME_SERIES,
                ),
                width=24,
            )
        )
        .with_row(dash.Row("Predictions"))
        .with_panel(
            time_series(
                "Forecast $horizon ahead: mean with 80 % and 95 % intervals",
                target(
                    forecast("mean|lo80|hi80|lo95|hi95"),
                    legend="{{metric}} {{instance}} {{bound}}",
                ),
                description="Written by the forecast loop at the pass time: the value expected "
                "one horizon later (docs/design/forecasting.md).",
                width=16,
            )
        )
        .with_panel(
            table_panel(
                "Widest 95 % intervals",
                table_target(f"topk(10, {forecast('hi95')} - ignoring(bound) {forecast('lo95')})"),
                description="The forecasts the model is least sure of.",
                width=8,
            )
        )
        .with_row(dash.Row("Model performance"))
        .with_panel(
            gauge_panel(
                "Precision (operators' feedback, 30 d)",
                target(
                    f'sum(increase({FEEDBACK_METRIC}{{verdict="true_positive"}}[30d])) / '
                    f"sum(increase({FEEDBACK_METRIC}[30d]))",
                    instant=True,
                ),
                green_above=0.8,
                description=f"True positives / all verdicts, from `{FEEDBACK_METRIC}`; "
                "no data until operators have marked anomalies.",
            )
        )
        .with_panel(
            table_panel(
                "Verdicts (30 d)",
                table_target(feedback),
                width=4,
            )
        )
        .with_panel(
            time_series(
                "Detection latency (age of the newest score)",
                target(f"max(time() - timestamp({SCORES}))", legend="latency"),
                unit="s",
                description="How far the detection loop trails the newest scored point.",
                width=8,
            )
        )
        .with_panel(
            time_series(
                "Scoring throughput",
                target(
                    "sum(rate(watchkeeper_detection_points_total[$__rate_interval]))",
                    legend="points/s",
                ),
                target(
                    "sum(rate(watchkeeper_detection_events_total[$__rate_interval]))",
                    legend="events/s",
                    ref="B",
                ),
                unit="ops",
                description="From Watchkeeper's own /metrics (scrape job `watchkeeper`).",
                width=8,
            )
        )
        .with_row(dash.Row("Incident correlation"))
        .with_panel(
            table_panel(
                "Anomalies and firing alerts per instance",
                table_target(f"count by (instance) ({SCORES} >= {SCORE_THRESHOLD})"),
                table_target('count by (instance) (ALERTS{alertstate="firing"})', ref="B"),
                description="Where anomalies and alerts coincide; the correlator groups them "
                "into incidents by shared labels and learned co-occurrence.",
            )
        )
        .with_panel(
            time_series(
                "Open incidents by severity",
                target("sum by (severity) (watchkeeper_incidents_open)", legend="{{severity}}"),
                description="From Watchkeeper's own /metrics (scrape job `watchkeeper`).",
            )
        )
    )
