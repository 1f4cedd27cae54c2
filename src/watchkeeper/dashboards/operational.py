"""The built-in Operational dashboard: SLOs with error budgets, capacity and time-to-full,
incidents and their resolution, custom business metrics.

SLO panels read the recording rules an SLO generates (names in `SLO_SERIES`, documented in
docs/design/dashboards.md); with no SLO defined they show "no data". Business metrics are
the tenant's recording rules named `business:<what>:<how>` (Prometheus' level:metric:operations
convention), so the panel lists whatever the tenant records there and nothing else.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
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

UID = "watchkeeper-operational"

SLO_SERIES = {
    "slo:sli_error:ratio_rate5m": "1 - good / total over 5 minutes, per `slo`",
    "slo:objective:ratio": "the objective, e.g. 0.999, per `slo`",
    "slo:error_budget_remaining:ratio": "share of the window's error budget left (1 = untouched)",
    "slo:burn_rate:ratio_rate1h": "error rate over 1 h / (1 - objective)",
    "slo:burn_rate:ratio_rate6h": "error rate over 6 h / (1 - objective)",
}
"""The recording rules an SLO produces, which these panels read (one series per `slo` label)."""

FILESYSTEMS = f'node_filesystem_avail_bytes{{fstype!~"tmpfs|overlay|squashfs", {HOST}}}'
FILESYSTEM_SIZE = f'node_filesystem_size_bytes{{fstype!~"tmpfs|overlay|squashfs", {HOST}}}'
RESOLVED = "watchkeeper_incident_time_to_resolve_seconds"
ACKNOWLEDGED = "watchkeeper_incident_time_to_acknowledge_seconds"


def build() -> dash.Dashboard:
    return (
        board(
            UID,
            "Watchkeeper / Operational",
            "SLOs and error budgets, capacity and time until disks fill, incidents and how "
            "fast they are resolved, and the tenant's business metrics.",
            ["operations", "slo"],
        )
        .with_row(dash.Row("SLOs and error budgets"))
        .with_panel(
            gauge_panel(
                "Error budget left (worst SLO)",
                target("min(slo:error_budget_remaining:ratio)", instant=True),
                green_above=0.25,
                description="No data until an SLO is defined.",
            )
        )
        .with_panel(
            table_panel(
                "SLOs",
                table_target("slo:objective:ratio"),
                table_target("slo:error_budget_remaining:ratio", ref="B"),
                table_target("slo:burn_rate:ratio_rate1h", ref="C"),
                width=8,
            )
        )
        .with_panel(
            time_series(
                "Burn rate (1 h and 6 h)",
                target("slo:burn_rate:ratio_rate1h", legend="{{slo}} 1h"),
                target("slo:burn_rate:ratio_rate6h", legend="{{slo}} 6h", ref="B"),
                description="1 = spending the budget exactly over the window; the SRE "
                "workbook pages at 14.4 (1 h) and 6 (6 h).",
            )
        )
        .with_panel(
            time_series(
                "Error budget left over time",
                target("slo:error_budget_remaining:ratio", legend="{{slo}}"),
                unit="percentunit",
                width=24,
            )
        )
        .with_row(dash.Row("Capacity"))
        .with_panel(
            gauge_panel(
                "Fullest filesystem",
                target(f"max(1 - {FILESYSTEMS} / {FILESYSTEM_SIZE})", instant=True),
            )
        )
        .with_panel(
            table_panel(
                "Time until full (linear trend over 6 h)",
                table_target(f"sort({FILESYSTEMS} / (-deriv({FILESYSTEMS}[6h]) > 0))"),
                description="Seconds until the filesystem is full at the last 6 hours' rate; "
                "filesystems that are not filling are not listed.",
                width=8,
            )
        )
        .with_panel(
            time_series(
                "Filesystem available, with the 24 h forecast (95 % lower bound)",
                target(FILESYSTEMS, legend="{{instance}} {{mountpoint}}"),
                target(
                    'watchkeeper_forecast{metric="node_filesystem_avail_bytes", horizon="24h", '
                    f'bound="lo95", {HOST}}}',
                    legend="{{instance}} {{mountpoint}} in 24 h (lo95)",
                    ref="B",
                ),
                unit="bytes",
            )
        )
        .with_panel(
            time_series(
                "Memory available, with the 24 h forecast",
                target(f"node_memory_MemAvailable_bytes{{{HOST}}}", legend="{{instance}}"),
                target(
                    'watchkeeper_forecast{metric="node_memory_MemAvailable_bytes", horizon="24h", '
                    f'bound=~"mean|lo95", {HOST}}}',
                    legend="{{instance}} in 24 h ({{bound}})",
                    ref="B",
                ),
                unit="bytes",
                width=12,
            )
        )
        .with_panel(
            time_series(
                "Network throughput",
                target(
                    "sum by (instance) (rate(node_network_receive_bytes_total"
                    f"{{{HOST}}}[$__rate_interval]))",
                    legend="{{instance}} in",
                ),
                target(
                    "sum by (instance) (rate(node_network_transmit_bytes_total"
                    f"{{{HOST}}}[$__rate_interval]))",
                    legend="{{instance}} out",
                    ref="B",
                ),
                unit="Bps",
                width=12,
            )
        )
        .with_row(dash.Row("Incidents and resolution"))
        .with_panel(open_incidents())
        .with_panel(
            stat_panel(
                "MTTA (7 d)",
                target(
                    f"sum(increase({ACKNOWLEDGED}_sum[7d])) / sum(increase({ACKNOWLEDGED}_count[7d]))",
                    instant=True,
                ),
                unit="s",
            )
        )
        .with_panel(
            stat_panel(
                "MTTR (7 d)",
                target(
                    f"sum(increase({RESOLVED}_sum[7d])) / sum(increase({RESOLVED}_count[7d]))",
                    instant=True,
                ),
                unit="s",
            )
        )
        .with_panel(
            time_series(
                "Open incidents by status",
                target("sum by (status) (watchkeeper_incidents_open)", legend="{{status}}"),
            )
        )
        .with_panel(
            heatmap_panel(
                "Time to resolve",
                target(
                    f"sum by (le) (increase({RESOLVED}_bucket[$__rate_interval]))",
                    legend="{{le}}",
                    fmt=prom.PromQueryFormat.HEATMAP,
                ),
                description="Incidents resolved per interval, by how long they took.",
            )
        )
        .with_row(dash.Row("Business metrics"))
        .with_panel(
            time_series(
                "Business metrics (recording rules business:*)",
                target('{__name__=~"business:.+"}', legend="{{__name__}}"),
                description="Record a rule named `business:<what>:<how>` (e.g. "
                "`business:orders:rate5m`) and it appears here.",
                width=24,
            )
        )
    )
