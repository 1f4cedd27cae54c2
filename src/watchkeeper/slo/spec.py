"""An SLO as written (API body or YAML) and the rule group it generates.

An SLO says which events are good among all events (`good` and `total` PromQL, or a latency
histogram and a threshold), the objective in percent and the window (default 30 days).
Watchkeeper turns it into one rule group, `slo:<name>`, the way Sloth and Pyrra do:

- recording rules `slo:sli_error:ratio_rate<w>` (the share of bad events over each window
  the alerts use, and over the SLO window), `slo:burn_rate:ratio_rate<w>`,
  `slo:objective:ratio` and `slo:error_budget_remaining:ratio`, all labelled `slo="<name>"`;
- the multi-window, multi-burn-rate alerts of Google's SRE workbook (chapter 5, "Alerting on
  SLOs", table 5-8): each fires while the error rate over a long window AND over its short
  window (one twelfth of it, so the alert resets soon after the burn stops) exceeds
  `burn_rate x (1 - objective)`.

`good`/`total` are either a counter selector (`http_requests_total{code!~"5.."}`, read as
`sum(rate(<selector>[<window>]))`) or any PromQL with `$window` where the range goes
(`sum by (route) (rate(http_requests_total[$window]))`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import promql_parser as pp
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from watchkeeper.alert.rules import (
    CompiledGroup,
    GroupSpec,
    RuleProblem,
    RuleValidationError,
    compile_group,
    duration_seconds,
)
from watchkeeper.domain.series import LABEL_NAME_RE, METRIC_NAME_LABEL
from watchkeeper.query.errors import QueryError
from watchkeeper.query.syntax import matchers_of, parse

SLO_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
GROUP_PREFIX = "slo:"
WINDOW_PLACEHOLDER = "$window"
MAX_QUERY_CHARS = 4000


@dataclass(frozen=True)
class BurnAlert:
    """One row of the workbook's table: burn rate over a long and a short window."""

    name: str
    burn_rate: float
    long: int
    short: int
    severity: Literal["page", "ticket"]


# Google SRE workbook, table 5-8 (for a 30-day SLO): 2 % of the budget in 1 h, 5 % in 6 h
# page; 10 % in 1 day, 10 % in 3 days open a ticket.
BURN_ALERTS = (
    BurnAlert("ErrorBudgetBurn1h", 14.4, 3600, 300, "page"),
    BurnAlert("ErrorBudgetBurn6h", 6.0, 6 * 3600, 1800, "page"),
    BurnAlert("ErrorBudgetBurn1d", 3.0, 86400, 7200, "ticket"),
    BurnAlert("ErrorBudgetBurn3d", 1.0, 3 * 86400, 6 * 3600, "ticket"),
)
ALERT_WINDOWS = sorted({w for a in BURN_ALERTS for w in (a.long, a.short)})


def duration_text(seconds: float) -> str:
    """Seconds as the shortest Prometheus duration (`300` -> `5m`, `2592000` -> `30d`)."""
    whole = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LatencySli(BaseModel):
    """Good events: requests faster than `threshold` seconds, read from a histogram."""

    model_config = ConfigDict(extra="forbid")

    histogram: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description='the histogram\'s bucket series, e.g. http_request_duration_seconds_bucket{job="api"}',
    )
    threshold: float = Field(gt=0, description="seconds; one of the histogram's `le` bounds")


class SloSpec(BaseModel):
    """One SLO as the API and YAML files write it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    objective: float = Field(gt=0, lt=100, description="percent of good events, e.g. 99.9")
    window: float = Field(30 * 86400.0, description="compliance window, 3d to 90d (default 30d)")
    good: str | None = Field(None, min_length=1, max_length=MAX_QUERY_CHARS)
    total: str | None = Field(None, min_length=1, max_length=MAX_QUERY_CHARS)
    latency: LatencySli | None = None
    labels: dict[str, str] = Field(default_factory=dict, max_length=20)
    tenant: str | None = Field(None, description="rule files only: the tenant it belongs to")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SLO_NAME_RE.match(value):
            raise ValueError(
                "1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> float:
        seconds = duration_seconds(value, "28d or 30d", check_sign=False)
        if not 3 * 86400 <= seconds <= 90 * 86400:
            raise ValueError("must be between 3d and 90d (the slowest alert looks at 3 days)")
        return seconds

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not LABEL_NAME_RE.match(name) or name in (METRIC_NAME_LABEL, "slo"):
                raise ValueError(f"{name!r} is not a label name an SLO may set")
            if len(text) > 1000:
                raise ValueError(f"label {name!r}: value longer than 1000 characters")
        return value

    @model_validator(mode="after")
    def _one_sli(self) -> SloSpec:
        ratio = self.good is not None or self.total is not None
        if ratio == (self.latency is not None):
            raise ValueError("an SLO needs either `good` and `total` or `latency`")
        if ratio and (self.good is None or self.total is None):
            raise ValueError("`good` and `total` go together")
        return self

    @property
    def group_name(self) -> str:
        return GROUP_PREFIX + self.name

    @property
    def error_budget(self) -> float:
        """The share of events allowed to be bad (0.001 for 99.9 %)."""
        return round(1 - self.objective / 100, 12)

    def to_file_form(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(exclude_none=True, exclude_defaults=True)
        data["name"], data["objective"] = self.name, self.objective
        data["window"] = duration_text(self.window)
        return data


def _bucket_selector(histogram: str, le: str) -> str:
    """The histogram's selector with its `le` matcher replaced by `le` (e.g. `le="0.3"`)."""
    node = parse(histogram)
    if not isinstance(node, pp.VectorSelector):
        raise ValueError(f"{histogram!r} is not a series selector of histogram buckets")
    parts = [f"{m.name}{m.op.value}{_quote(m.value)}" for m in matchers_of(node) if m.name != "le"]
    return "{" + ", ".join([*parts, le]) + "}"


def _le_matcher(threshold: float) -> str:
    """`le` as client libraries write the bound: `le="0.3"`; `le=~"1|1.0"` for whole numbers."""
    if threshold.is_integer():
        return f'le=~"{int(threshold)}|{threshold!r}"'
    return f"le={_quote(repr(threshold))}"


def _counter_rate(text: str, window: str) -> str:
    if WINDOW_PLACEHOLDER in text:
        return "(" + text.replace(WINDOW_PLACEHOLDER, window) + ")"
    return f"sum(rate({text}[{window}]))"


@dataclass(frozen=True)
class SliQueries:
    """The PromQL of the SLI for any window."""

    good: str
    total: str

    def error_ratio(self, window: str) -> str:
        good, total = _counter_rate(self.good, window), _counter_rate(self.total, window)
        return f"1 - ({good} / {total})"


def sli_queries(spec: SloSpec) -> SliQueries:
    """The good/total expressions of the SLO (`$window` templates or counter selectors)."""
    if spec.latency is not None:
        histogram = spec.latency.histogram
        good = _bucket_selector(histogram, _le_matcher(spec.latency.threshold))
        return SliQueries(good, _bucket_selector(histogram, 'le="+Inf"'))
    assert spec.good is not None and spec.total is not None
    return SliQueries(spec.good, spec.total)


def parse_slo(data: Any, *, where: str = "") -> SloSpec:
    """An SLO from its JSON/YAML data, its queries checked; RuleValidationError names each
    problem's place (`objective`, `good`, `latency.histogram`, ...)."""
    prefix = f"{where} > " if where else ""
    if not isinstance(data, dict):
        raise RuleValidationError([RuleProblem(where or "(body)", "an SLO is a mapping")])
    try:
        spec = SloSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            loc = ".".join(str(p) for p in item["loc"]) or "(root)"
            text = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
            problems.append(RuleProblem(prefix + loc, text))
        raise RuleValidationError(problems) from None
    problems = []
    try:
        sli = sli_queries(spec)
    except (QueryError, ValueError) as exc:
        message = exc.message if isinstance(exc, QueryError) else str(exc)
        raise RuleValidationError([RuleProblem(prefix + "latency.histogram", message)]) from None
    for field, text in (("good", sli.good), ("total", sli.total)):
        try:
            node = parse(text.replace(WINDOW_PLACEHOLDER, "5m"))
        except QueryError as exc:
            problems.append(RuleProblem(prefix + field, f"invalid PromQL: {exc.message}"))
            continue
        if WINDOW_PLACEHOLDER not in text and not isinstance(node, pp.VectorSelector):
            problems.append(
                RuleProblem(
                    prefix + field,
                    'a counter selector such as http_requests_total{code!~"5.."}, or PromQL '
                    "with `$window` where the range goes: sum(rate(x[$window]))",
                )
            )
    if problems:
        raise RuleValidationError(problems)
    return spec


def _windows(spec: SloSpec) -> list[int]:
    return sorted({*ALERT_WINDOWS, round(spec.window)})


def slo_group_spec(spec: SloSpec) -> GroupSpec:
    """The rule group an SLO generates (see the module docstring)."""
    sli = sli_queries(spec)
    base = {**spec.labels, "slo": spec.name}
    selector = "{" + f"slo={_quote(spec.name)}" + "}"
    budget = spec.error_budget
    window = duration_text(spec.window)
    rules: list[dict[str, Any]] = []
    for seconds in _windows(spec):
        w = duration_text(seconds)
        rules.append(
            {"record": f"slo:sli_error:ratio_rate{w}", "expr": sli.error_ratio(w), "labels": base}
        )
    for seconds in ALERT_WINDOWS:
        w = duration_text(seconds)
        rules.append(
            {
                "record": f"slo:burn_rate:ratio_rate{w}",
                "expr": f"slo:sli_error:ratio_rate{w}{selector} / {budget!r}",
                "labels": base,
            }
        )
    rules += [
        {
            "record": "slo:objective:ratio",
            "expr": f"vector({round(spec.objective / 100, 12)!r})",
            "labels": base,
        },
        {
            "record": "slo:error_budget_remaining:ratio",
            "expr": f"1 - slo:sli_error:ratio_rate{window}{selector} / {budget!r}",
            "labels": base,
        },
    ]
    for alert in BURN_ALERTS:
        long, short = duration_text(alert.long), duration_text(alert.short)
        limit = round(alert.burn_rate * budget, 12)
        rules.append(
            {
                "alert": alert.name,
                "expr": (
                    f"slo:sli_error:ratio_rate{long}{selector} > {limit!r}"
                    f" and slo:sli_error:ratio_rate{short}{selector} > {limit!r}"
                ),
                "labels": {
                    **base,
                    "severity": alert.severity,
                    "long_window": long,
                    "short_window": short,
                    "burn_rate": f"{alert.burn_rate:g}",
                },
                "annotations": {
                    "summary": f"SLO {spec.name}: error budget burning {alert.burn_rate:g}x "
                    f"too fast over {long} and {short}",
                    "description": (
                        "Error rate {{ $value | humanizePercentage }} over the last "
                        f"{long}, above {alert.burn_rate:g} x the budget of "
                        f"{budget * 100:g} % (objective {spec.objective:g} % over {window})."
                    ),
                },
            }
        )
    return GroupSpec.model_validate({"name": spec.group_name, "rules": rules})


def compile_slo(spec: SloSpec, *, default_interval: float) -> CompiledGroup:
    """The SLO's generated group, compiled as any rule group is."""
    return compile_group(slo_group_spec(spec), default_interval=default_interval)
