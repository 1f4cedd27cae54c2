"""The panel kinds our dashboards use, built with Grafana's SDK, each on one PromQL target.

Every panel reads the Prometheus data source that `provisioning.py` defines (uid
`watchkeeper`: Watchkeeper's own Prometheus API), so the same JSON works in Grafana and in
the web console, which answers the same queries. Queries may use the template variables
`$job` and `$instance` (regexes, "All" is `.*`) and Grafana's `$__rate_interval`; see
`variables.interpolate` for how a native renderer expands them.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import gauge, heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prom

DATASOURCE_UID = "watchkeeper"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
HOST = 'job=~"$job", instance=~"$instance"'
"""The matchers every host panel adds: the dashboard's job and instance variables."""

Panel = Builder[model.Panel]


def _last() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


_LAST = _last()


def target(
    expr: str,
    *,
    legend: str = "",
    instant: bool = False,
    fmt: prom.PromQueryFormat | None = None,
    ref: str = "A",
) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    if fmt is not None:
        query = query.format(fmt)
    return query.instant() if instant else query.range()


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def time_series(
    title: str,
    *targets: prometheus.Dataquery,
    unit: str = "short",
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .no_value("no data")
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    for query in targets:
        panel = panel.with_target(query)
    return panel.description(description) if description else panel


def stat_panel(
    title: str,
    query: prometheus.Dataquery,
    *,
    unit: str = "short",
    description: str = "",
    width: int = 4,
    red_above: float | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(query)
        .unit(unit)
        .span(width)
        .height(4)
        .no_value("no data")
        .reduce_options(_LAST)
    )
    if red_above is not None:
        panel = panel.thresholds(_thresholds((None, "green"), (red_above, "red")))
    return panel.description(description) if description else panel


def gauge_panel(
    title: str,
    query: prometheus.Dataquery,
    *,
    unit: str = "percentunit",
    low: float = 0.0,
    high: float = 1.0,
    description: str = "",
    width: int = 4,
    green_above: float | None = None,
) -> gauge.Panel:
    panel = (
        gauge.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(query)
        .unit(unit)
        .min(low)
        .max(high)
        .span(width)
        .height(6)
        .no_value("no data")
        .reduce_options(_LAST)
    )
    if green_above is not None:  # a budget or a ratio: red when low
        panel = panel.thresholds(_thresholds((None, "red"), (green_above, "green")))
    else:  # a usage: red when high
        panel = panel.thresholds(_thresholds((None, "green"), (low + 0.8 * (high - low), "orange")))
    return panel.description(description) if description else panel


def table_panel(
    title: str,
    *targets: prometheus.Dataquery,
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    panel = (
        table.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .span(width)
        .height(height)
        .no_value("no data")
        .show_header(True)
    )
    for query in targets:
        panel = panel.with_target(query)
    return panel.description(description) if description else panel


def heatmap_panel(
    title: str,
    query: prometheus.Dataquery,
    *,
    unit: str = "short",
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> heatmap.Panel:
    """A heatmap of the query's series (one row per series, no bucketing by Grafana)."""
    panel = (
        heatmap.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(query)
        .unit(unit)
        .span(width)
        .height(height)
        .calculate(False)
        .color(heatmap.HeatmapColorOptions().mode(heatmap_model.HeatmapColorMode.SCHEME))
    )
    return panel.description(description) if description else panel


def variables(board: dash.Dashboard) -> dash.Dashboard:
    """`$job` and `$instance`, multi-valued with All (`.*`); instances follow the job."""
    job = (
        dash.QueryVariable("job")
        .label("Job")
        .datasource(DATASOURCE)
        .query("label_values(node_load1, job)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )
    instance = (
        dash.QueryVariable("instance")
        .label("Instance")
        .datasource(DATASOURCE)
        .query('label_values(node_load1{job=~"$job"}, instance)')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )
    return board.with_variable(job).with_variable(instance)


def board(uid: str, title: str, description: str, tags: list[str]) -> dash.Dashboard:
    """A dashboard with our defaults: last 6 hours, 30 s refresh, shared crosshair, UTC."""
    return variables(
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["watchkeeper", *tags])
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
