"""Rule files as in Prometheus, plus Watchkeeper's rule types: parsed, validated, compiled.

A file is `groups: [{name, interval, rules: [...]}]`; a group may also say `tenant: <name>`
(file groups belong to tenant "default" otherwise). Each rule is one of:

- `record: <name>` + `expr`: a recording rule (the result is written back as a series);
- `alert: <name>` + `expr`: a PromQL alerting rule (`type: promql`, the default);
- `alert` + `type: absence` + `selector`: fires when no series matches the selector
  (compiled to `absent(<selector>)`, labelled with the selector's equality matchers);
- `alert` + `type: anomaly` + `selector` [+ `threshold`, default 0.5]: fires while the
  detection loop's score of a matching series is at least `threshold` (compiled to
  `watchkeeper_anomaly_score{metric="<name>", ...} >= threshold`);
- `alert` + `type: forecast` + `selector` + `threshold` + `within` [+ `direction`,
  `lookback`]: fires while the series is predicted to cross `threshold` within `within`
  (compiled to `predict_linear(<selector>[lookback], within) > threshold`, or `<` for
  `direction: below`); the predicted crossing time goes into the alert's annotations.
  With `model: <forecaster>` (e.g. `capacity`) the forecasting engine fits that model on
  each series (history: `lookback`, default 7 days; refit every 15 minutes) and the rule
  fires when the expected forecast reaches the threshold within `within`, with the predicted
  time and its 80 % interval (`predicted_crossing_earliest80` / `_latest80`) as annotations;
- `alert` + `type: composite` + `all_of` or `any_of`: names of alerting rules earlier in
  the group; fires while all (any) of them fire, per value of the `by` labels.

Every alerting rule takes `for`, `keep_firing_for`, `labels`, `annotations`, and for
hysteresis `resolve_expr` (PromQL: a firing alert stays firing while this still returns its
series) or, for anomaly and forecast rules, `resolve_threshold` (the same, as a threshold).

Validation names the place of each problem: `groups[0] (api) > rules[2] (HighCpu) > expr`.

Why one module of ~470 lines: every rule type above shares one spec model, one validation
pass and one compile step; each type adds a few lines to each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import promql_parser as pp
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchkeeper.alert.templates import Template, TemplateError, compile_template
from watchkeeper.config import ForecasterName, parse_duration_or_seconds_ms
from watchkeeper.domain.series import LABEL_NAME_RE, METRIC_NAME_LABEL, METRIC_NAME_RE, Matcher
from watchkeeper.query.errors import QueryError
from watchkeeper.query.syntax import matchers_of, parse

RuleType = Literal["promql", "absence", "anomaly", "forecast", "composite"]
DEFAULT_TENANT = "default"
ANOMALY_SCORE_METRIC = "watchkeeper_anomaly_score"


def duration_seconds(
    value: Any, examples: str = "30s, 5m or 1h30m", *, check_sign: bool = True
) -> float:
    """A Prometheus duration (`5m`, `1h30m`) or a number of seconds (rules and SLOs); errors
    name `examples`. `check_sign=False` leaves a negative number to the caller's range check."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if check_sign and value < 0:
            raise ValueError("must not be negative")
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration_or_seconds_ms(value) / 1000
        except ValueError:
            raise ValueError(f"{value!r} is not a duration such as {examples}") from None
    raise ValueError(f"must be a duration such as {examples}")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RuleSpec(_Spec):
    """One rule as written in the file (its JSON form is the same keys)."""

    alert: str | None = None
    record: str | None = None
    type: RuleType = "promql"
    expr: str | None = None
    for_: float = Field(0.0, alias="for")
    keep_firing_for: float = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    resolve_expr: str | None = None
    selector: str | None = None
    threshold: float | None = None
    resolve_threshold: float | None = None
    direction: Literal["above", "below"] = "above"
    within: float | None = None
    lookback: float = 3600.0
    model: ForecasterName | None = None
    """Forecast rules: a forecaster of the forecasting engine (e.g. `capacity`) instead of
    PromQL's linear trend; `lookback` is then the history it fits (default 7 days)."""
    all_of: list[str] | None = None
    any_of: list[str] | None = None
    by: list[str] = Field(default_factory=list)

    @field_validator("for_", "keep_firing_for", "within", "lookback", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else duration_seconds(value)

    @property
    def name(self) -> str:
        return self.alert or self.record or ""

    def to_file_form(self) -> dict[str, Any]:
        """The rule as a file would say it: defaults left out, durations as seconds."""
        data: dict[str, Any] = self.model_dump(by_alias=True, exclude_defaults=True)
        return data


class GroupSpec(_Spec):
    """A rule group as written: name, interval (default: alerting.evaluation_interval_seconds)."""

    name: str = Field(min_length=1, max_length=200)
    interval: float | None = None
    tenant: str | None = None
    limit: int = Field(0, ge=0, description="most alerts (or series) one rule may produce")
    rules: list[RuleSpec] = Field(default_factory=list)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        if value is None:
            return None
        seconds = duration_seconds(value)
        if seconds <= 0:
            raise ValueError("must be positive")
        return seconds

    def to_file_form(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.interval is not None:
            data["interval"] = self.interval
        if self.tenant is not None:
            data["tenant"] = self.tenant
        if self.limit:
            data["limit"] = self.limit
        data["rules"] = [rule.to_file_form() for rule in self.rules]
        return data


@dataclass(frozen=True)
class RuleProblem:
    """Where a rule file or group is wrong (`location`) and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class RuleValidationError(ValueError):
    """Invalid rules; `problems` lists every one with its location."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("invalid rules:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to evaluate: its queries and templates compiled once."""

    spec: RuleSpec
    kind: Literal["alerting", "recording"]
    query: str
    """The PromQL evaluated (for composites: a readable `A and B` description)."""
    resolve_query: str | None
    crossing_query: str | None
    """Forecast rules: seconds until the predicted crossing, per series."""
    labels: dict[str, Template]
    annotations: dict[str, Template]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def components(self) -> list[str]:
        return list(self.spec.all_of or self.spec.any_of or [])


@dataclass(frozen=True)
class CompiledGroup:
    spec: GroupSpec
    interval_seconds: float
    rules: list[CompiledRule]

    @property
    def name(self) -> str:
        return self.spec.name


def location(
    group_index: int | None, group: str, rule_index: int | None = None, rule: str = ""
) -> str:
    parts = []
    if group_index is not None:
        parts.append(f"groups[{group_index}] ({group})" if group else f"groups[{group_index}]")
    elif group:
        parts.append(f"group {group}")
    if rule_index is not None:
        parts.append(f"rules[{rule_index}] ({rule})" if rule else f"rules[{rule_index}]")
    return " > ".join(parts) or "(root)"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(text: str) -> list[Matcher]:
    node = parse(text)
    if not isinstance(node, pp.VectorSelector):
        raise ValueError(f'{text!r} is not a series selector such as cpu{{host="db-1"}}')
    matchers = matchers_of(node)
    if all(m.matches("") for m in matchers):
        raise ValueError(f"{text!r} must contain at least one non-empty matcher")
    return matchers


def anomaly_query(selector: str, op: str, threshold: float) -> str:
    """The anomaly score series of the series `selector` matches, compared with a threshold.

    Scores are `watchkeeper_anomaly_score{<labels>, metric="<name>"}`: the selector's name
    matcher becomes a `metric` matcher; a `metric` label matcher becomes `exported_metric`.
    """
    parts = [f"__name__={_quote(ANOMALY_SCORE_METRIC)}"]
    for m in _selector(selector):
        name = {METRIC_NAME_LABEL: "metric", "metric": "exported_metric"}.get(m.name, m.name)
        parts.append(f"{name}{m.op.value}{_quote(m.value)}")
    return "{" + ", ".join(parts) + f"}} {op} {threshold!r}"


def _forecast_queries(spec: RuleSpec, threshold: float) -> tuple[str, str]:
    _selector(spec.selector or "")
    assert spec.within is not None
    window = f"{round(spec.lookback)}s"
    op = "<" if spec.direction == "below" else ">"
    trend = f"predict_linear({spec.selector}[{window}], {spec.within!r})"
    crossing = (
        f"({threshold!r} - predict_linear({spec.selector}[{window}], 0))"
        f" / deriv({spec.selector}[{window}])"
    )
    return f"{trend} {op} {threshold!r}", crossing


def _check_type_fields(spec: RuleSpec) -> list[tuple[str, str]]:
    """(field, message) for keys that do not fit the rule's type."""
    problems: list[tuple[str, str]] = []
    needs: dict[str, tuple[str, ...]] = {
        "promql": ("expr",),
        "absence": ("selector",),
        "anomaly": ("selector",),
        "forecast": ("selector", "threshold", "within"),
        "composite": (),
    }
    allowed_extra: dict[str, set[str]] = {
        "promql": {"expr", "resolve_expr"},
        "absence": {"selector"},
        "anomaly": {"selector", "threshold", "resolve_threshold"},
        "forecast": {
            "selector",
            "threshold",
            "resolve_threshold",
            "within",
            "lookback",
            "direction",
            "model",
        },
        "composite": {"all_of", "any_of", "by"},
    }
    typed = {
        "expr",
        "resolve_expr",
        "selector",
        "threshold",
        "resolve_threshold",
        "within",
        "lookback",
        "model",
        "direction",
        "all_of",
        "any_of",
        "by",
    }
    given = spec.model_fields_set
    for field in needs[spec.type]:
        if getattr(spec, field) is None:
            problems.append((field, f"required for a rule of type {spec.type}"))
    for field in sorted((given & typed) - allowed_extra[spec.type]):
        problems.append((field, f"not used by a rule of type {spec.type}"))
    if spec.type == "composite" and (spec.all_of is None) == (spec.any_of is None):
        problems.append(("all_of", "a composite rule needs exactly one of all_of or any_of"))
    return problems


def _compile_rule(
    spec: RuleSpec, earlier_alerts: set[str]
) -> tuple[CompiledRule | None, list[tuple[str, str]]]:
    """The compiled rule, or the (field, message) problems that prevent it."""
    problems: list[tuple[str, str]] = []
    if (spec.alert is None) == (spec.record is None):
        return None, [("alert", "a rule needs exactly one of `alert` or `record`")]
    if spec.record is not None:
        if not METRIC_NAME_RE.match(spec.record):
            problems.append(("record", f"{spec.record!r} is not a valid metric name"))
        if spec.type != "promql" or spec.expr is None:
            problems.append(("expr", "a recording rule needs a PromQL `expr` (and no `type`)"))
        for field in ("for_", "keep_firing_for", "annotations", "resolve_expr"):
            if field in spec.model_fields_set:
                problems.append((field.rstrip("_"), "not used by a recording rule"))
    else:
        problems.extend(_check_type_fields(spec))
    for name in spec.labels:
        if not LABEL_NAME_RE.match(name) or name == METRIC_NAME_LABEL:
            problems.append((f"labels.{name}", "not a valid label name"))
    if problems:
        return None, problems

    query, resolve, crossing = spec.expr or "", spec.resolve_expr, None
    try:
        if spec.type == "absence":
            _selector(spec.selector or "")
            query = f"absent({spec.selector})"
        elif spec.type == "anomaly":
            threshold = 0.5 if spec.threshold is None else spec.threshold
            query = anomaly_query(spec.selector or "", ">=", threshold)
            if spec.resolve_threshold is not None:
                resolve = anomaly_query(spec.selector or "", ">=", spec.resolve_threshold)
        elif spec.type == "forecast" and spec.model is not None:
            # Evaluated by the forecasting engine (GroupEvaluator._model_forecast); the
            # selector is what it reads.
            _selector(spec.selector or "")
            query = spec.selector or ""
        elif spec.type == "forecast":
            assert spec.threshold is not None
            query, crossing = _forecast_queries(spec, spec.threshold)
            if spec.resolve_threshold is not None:
                resolve, _ = _forecast_queries(spec, spec.resolve_threshold)
        elif spec.type == "composite":
            missing = [
                name for name in spec.all_of or spec.any_of or [] if name not in earlier_alerts
            ]
            if missing:
                field = "all_of" if spec.all_of is not None else "any_of"
                return None, [
                    (field, f"{', '.join(missing)}: not an alerting rule earlier in this group")
                ]
            joiner = " and " if spec.all_of is not None else " or "
            names = spec.all_of or spec.any_of or []
            query = joiner.join(f"ALERTS{{alertname={_quote(n)}}}" for n in names)
    except (QueryError, ValueError) as exc:
        return None, [("selector", _message(exc))]
    field = "expr" if spec.type == "promql" else "selector"
    checks = [] if spec.type == "composite" else [(field, query), ("resolve_expr", resolve)]
    for where, text in checks:
        if text is None:
            continue
        try:
            parse(text)
        except QueryError as exc:
            problems.append((where, f"invalid PromQL: {exc.message}"))
    labels: dict[str, Template] = {}
    annotations: dict[str, Template] = {}
    for kind, source, target in (
        ("labels", spec.labels, labels),
        ("annotations", spec.annotations, annotations),
    ):
        for key, text in source.items():
            try:
                target[key] = compile_template(text)
            except TemplateError as exc:
                problems.append((f"{kind}.{key}", f"invalid template: {exc}"))
    if problems:
        return None, problems
    return (
        CompiledRule(
            spec=spec,
            kind="recording" if spec.record is not None else "alerting",
            query=query,
            resolve_query=resolve,
            crossing_query=crossing,
            labels=labels,
            annotations=annotations,
        ),
        [],
    )


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, QueryError) else str(exc)


def compile_group(
    spec: GroupSpec, *, default_interval: float, group_index: int | None = None
) -> CompiledGroup:
    """Validate every rule of a group; raises RuleValidationError listing all problems."""
    problems: list[RuleProblem] = []
    compiled: list[CompiledRule] = []
    alerts: set[str] = set()
    records: set[str] = set()
    for index, rule in enumerate(spec.rules):
        result, issues = _compile_rule(rule, alerts)
        where = location(group_index, spec.name, index, rule.name)
        problems.extend(RuleProblem(f"{where} > {field}", message) for field, message in issues)
        if result is not None:
            compiled.append(result)
        if rule.alert is not None:
            alerts.add(rule.alert)
        elif rule.record is not None:
            if rule.record in records:
                problems.append(RuleProblem(f"{where} > record", "recorded twice in this group"))
            records.add(rule.record)
    if not spec.rules:
        problems.append(RuleProblem(f"{location(group_index, spec.name)} > rules", "no rules"))
    if problems:
        raise RuleValidationError(problems)
    return CompiledGroup(spec, spec.interval or default_interval, compiled)


def group_spec(data: Any, *, group_index: int | None = None, prefix: str = "") -> GroupSpec:
    """Validate a group's data, each rule on its own so every bad rule is reported."""
    if not isinstance(data, dict):
        where = location(group_index, "")
        raise RuleValidationError([RuleProblem(prefix + where, "a group is a mapping")])
    name = str(data.get("name", ""))
    problems: list[RuleProblem] = []
    rules = data.get("rules")
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            try:
                RuleSpec.model_validate(rule)
            except ValidationError as exc:
                label = (
                    str(rule.get("alert") or rule.get("record") or "")
                    if isinstance(rule, dict)
                    else ""
                )
                where = prefix + location(group_index, name, index, label)
                problems.extend(_pydantic_problems(exc, where))
    if problems:
        raise RuleValidationError(problems)
    try:
        return GroupSpec.model_validate(data)
    except ValidationError as exc:
        raise RuleValidationError(
            _pydantic_problems(exc, prefix + location(group_index, name))
        ) from None


def parse_group(data: Any, *, default_interval: float) -> CompiledGroup:
    """A group from its JSON/YAML data (one group, not a file), validated and compiled."""
    return compile_group(group_spec(data), default_interval=default_interval)


def _pydantic_problems(exc: ValidationError, prefix: str) -> list[RuleProblem]:
    problems = []
    for item in exc.errors():
        parts = [str(p).replace("for_", "for") for p in item["loc"]]
        loc = ".".join(parts)
        text = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        where = f"{prefix} > {loc}" if prefix and loc else prefix or loc
        problems.append(RuleProblem(where or "(root)", text))
    return problems


def parse_yaml(text: str | bytes, source: str = "") -> Any:
    """YAML (JSON is YAML too) into data; a syntax error becomes a RuleValidationError."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleValidationError(
            [RuleProblem(source or "(body)", f"not valid YAML: {exc}")]
        ) from None
