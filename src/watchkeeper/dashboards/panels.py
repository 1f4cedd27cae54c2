"""The panel kinds our dashboards use, built with Grafana's SDK, each on one PromQL target.

Every panel reads the Prometheus data source that `provisioning.py` defines (uid
`watchkeeper`: Watchkeeper's own Prometheus API), so the same JSON works in Grafana and in
the web console, which answers the same queries. Queries may use the template variables
`$job` and `$instance` (regexes, "All" is `.*`) and Grafana's `$__rate_interval`; see
`variables.interpolate` for how a native renderer expands them.
"""

from __future__ import annotations

from typing import Any, Protocol, Self, TypeVar

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


def table_target(expr: str, *, ref: str = "A") -> prometheus.Dataquery:
    """An instant query answered as a table: what the table panels read."""
    return target(expr, instant=True, fmt=prom.PromQueryFormat.TABLE, ref=ref)


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


class _PanelBuilder(Protocol):
    """The calls every panel kind of the SDK has, each returning the builder itself."""

    def title(self, title: str) -> Self: ...
    def description(self, description: str) -> Self: ...
    def datasource(self, datasource: model.DataSourceRef) -> Self: ...
    def with_target(self, target: Builder[Any]) -> Self: ...
    def span(self, w: int) -> Self: ...
    def height(self, h: int) -> Self: ...


P = TypeVar("P", bound=_PanelBuilder)


def _framed(
    panel: P,
    title: str,
    targets: tuple[prometheus.Dataquery, ...],
    *,
    description: str,
    width: int,
    height: int,
) -> P:
    """What every panel kind shares: title, our data source, its queries, size, description."""
    panel = panel.title(title).datasource(DATASOURCE)
    for query in targets:
        panel = panel.with_target(query)
    panel = panel.span(width).height(height)
    return panel.description(description) if description else panel


def time_series(
    title: str,
    *targets: prometheus.Dataquery,
    unit: str = "short",
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    return (
        _framed(
            timeseries.Panel(), title, targets, description=description, width=width, height=height
        )
        .unit(unit)
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
        _framed(stat.Panel(), title, (query,), description=description, width=width, height=4)
        .unit(unit)
        .no_value("no data")
        .reduce_options(_LAST)
    )
    if red_above is not None:
        panel = panel.thresholds(_thresholds((None, "green"), (red_above, "red")))
    return panel


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
        _framed(gauge.Panel(), title, (query,), description=description, width=width, height=6)
        .unit(unit)
        .min(low)
        .max(high)
        .no_value("no data")
        .reduce_options(_LAST)
    )
    if green_above is not None:  # a budget or a ratio: red when low
        return panel.thresholds(_thresholds((None, "red"), (green_above, "green")))
    # a usage: red when high
    return panel.thresholds(_thresholds((None, "green"), (low + 0.8 * (high - low), "orange")))


def table_panel(
    title: str,
    *targets: prometheus.Dataquery,
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    return (
        _framed(table.Panel(), title, targets, description=description, width=width, height=height)
        .no_value("no data")
        .show_header(True)
    )


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
    return (
        _framed(
            heatmap.Panel(), title, (query,), description=description, width=width, height=height
        )
        .unit(unit)
        .calculate(False)
        .color(heatmap.HeatmapColorOptions().mode(heatmap_model.HeatmapColorMode.SCHEME))
    )


def open_incidents(description: str = "") -> stat.Panel:
    """The open incidents, red from one: on the Main and the Operational boards alike."""
    return stat_panel(
        "Open incidents",
        target("sum(watchkeeper_incidents_open) or vector(0)", instant=True),
        red_above=1,
        description=description,
    )


def query_variable(name: str, label: str, query: str) -> dash.QueryVariable:
    """A variable over label values with All (`.*`) selected first, refreshed with the range."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def variables(board: dash.Dashboard) -> dash.Dashboard:
    """`$job` and `$instance`, multi-valued with All (`.*`); instances follow the job."""
    job = (
        query_variable("job", "Job", "label_values(node_load1, job)")
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    instance = (
        query_variable("instance", "Instance", 'label_values(node_load1{job=~"$job"}, instance)')
        .multi(True)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
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
