"""The notification routing tree, as Alertmanager's `route:` block, and why an alert goes where.

Matching mirrors Alertmanager's `dispatch.Route.Match`: a route matches when all its matchers do;
its children are tried in order, and the first matching child stops the search unless it has
`continue: true`; a matching route with no matching child is itself the destination. Children
inherit `receiver`, `group_by`, the three timings and the resolved-notification options from
their parent; `mute_time_intervals` and `active_time_intervals` are not inherited (as in
Alertmanager). `group_by: ['...']` groups by every label.

Two options go beyond Alertmanager: `send_resolved` (default true) and
`send_resolved_after_silence` (default false: Alertmanager's behaviour; true sends the
resolution of an alert that was notified as firing and then silenced or inhibited, see
prometheus/alertmanager#226).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from watchkeeper.alert.matchers import (
    format_matcher,
    legacy_matchers,
    matchers_from_config,
)
from watchkeeper.alert.model import ConfigError, parse_duration
from watchkeeper.domain.series import LABEL_NAME_RE, Matcher

# Alertmanager's DefaultRouteOpts.
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0
GROUP_BY_ALL = "..."

_ROUTE_FIELDS = frozenset(
    {
        "receiver",
        "group_by",
        "group_wait",
        "group_interval",
        "repeat_interval",
        "matchers",
        "match",
        "match_re",
        "continue",
        "routes",
        "mute_time_intervals",
        "active_time_intervals",
        "send_resolved",
        "send_resolved_after_silence",
        "send_resolved_for_silenced",  # the name the dispatch docs use; same option
    }
)


@dataclass(frozen=True)
class Route:
    """One node of the tree with its settings resolved (inheritance applied).

    `id` is the node's config path (`route.routes[1].routes[0]`): stable for a given config,
    readable in explanations, and part of every group key.
    """

    id: str
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    send_resolved: bool = True
    send_resolved_after_silence: bool = False
    routes: tuple[Route, ...] = ()

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that define the alert's aggregation group on this route."""
        if self.group_by_all:
            return {k: v for k, v in labels.items() if v != ""}
        return {k: labels[k] for k in self.group_by if labels.get(k, "") != ""}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Identity of the aggregation group, e.g. `route.routes[0]:{alertname="Down"}`."""
        group = self.group_labels(labels)
        pairs = ", ".join(f"{k}={_quote(group[k])}" for k in sorted(group))
        return f"{self.id}:{{{pairs}}}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class MatcherCheck:
    """One matcher tested against the alert: the label's value and the outcome."""

    matcher: str
    label: str
    value: str | None
    matched: bool


@dataclass
class RouteStep:
    """What happened at one route while the tree was walked, in walk order."""

    route_id: str
    depth: int
    receiver: str
    continue_: bool
    evaluated: bool
    matched: bool
    checks: list[MatcherCheck] = field(default_factory=list)
    outcome: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route_id,
            "depth": self.depth,
            "receiver": self.receiver,
            "continue": self.continue_,
            "evaluated": self.evaluated,
            "matched": self.matched,
            "matchers": [
                {"matcher": c.matcher, "label": c.label, "value": c.value, "matched": c.matched}
                for c in self.checks
            ],
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class RoutingExplanation:
    """The routes an alert's labels select and the step-by-step reasons."""

    labels: dict[str, str]
    routes: tuple[Route, ...]
    steps: tuple[RouteStep, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "routes": [
                {
                    "route": r.id,
                    "receiver": r.receiver,
                    "group_key": r.group_key(self.labels),
                    "group_by": [GROUP_BY_ALL] if r.group_by_all else list(r.group_by),
                }
                for r in self.routes
            ],
            "steps": [s.to_dict() for s in self.steps],
        }


class RouteTree:
    """The routing tree built from an Alertmanager-style `route:` mapping."""

    def __init__(self, root: Route) -> None:
        self.root = root
        self._by_id = {route.id: route for route in _walk(root)}

    @classmethod
    def from_config(
        cls,
        config: object,
        *,
        time_intervals: frozenset[str] | set[str] = frozenset(),
        receivers: frozenset[str] | set[str] | None = None,
        path: str = "route",
    ) -> RouteTree:
        """Validate and build; errors name the config path of the problem.

        `time_intervals` are the defined interval names routes may refer to; when `receivers`
        is given, every route's receiver must be one of them.
        """
        if not isinstance(config, dict):
            raise ConfigError(path, "expected a map")
        for key in ("matchers", "match", "match_re"):
            if config.get(key):
                raise ConfigError(f"{path}.{key}", "the root route must match every alert")
        if config.get("continue"):
            raise ConfigError(f"{path}.continue", "the root route cannot have continue")
        for key in ("mute_time_intervals", "active_time_intervals"):
            if config.get(key):
                raise ConfigError(f"{path}.{key}", "the root route cannot have time intervals")
        if not config.get("receiver"):
            raise ConfigError(f"{path}.receiver", "the root route needs a receiver")
        parser = _Parser(frozenset(time_intervals), receivers)
        return cls(parser.route(path, config, None))

    def get(self, route_id: str) -> Route:
        return self._by_id[route_id]

    def __iter__(self) -> Iterator[Route]:
        return iter(self._by_id.values())

    def route_for(self, labels: Mapping[str, str]) -> list[Route]:
        """The destination routes of an alert, in tree order (Alertmanager's `Route.Match`)."""
        return list(self.explain(labels).routes)

    def explain(self, labels: Mapping[str, str]) -> RoutingExplanation:
        """`route_for` with the reasons: each route tried, its matchers, and what followed."""
        steps: list[RouteStep] = []
        routes = _match(self.root, labels, 0, steps)
        return RoutingExplanation(dict(labels), tuple(routes), tuple(steps))


def _walk(route: Route) -> Iterator[Route]:
    yield route
    for child in route.routes:
        yield from _walk(child)


def _match(
    route: Route, labels: Mapping[str, str], depth: int, steps: list[RouteStep]
) -> list[Route]:
    checks = [
        MatcherCheck(
            format_matcher(m),
            m.name,
            labels.get(m.name),
            m.matches(labels.get(m.name, "")),
        )
        for m in route.matchers
    ]
    matched = all(c.matched for c in checks)
    step = RouteStep(route.id, depth, route.receiver, route.continue_, True, matched, checks)
    steps.append(step)
    if not matched:
        failed = ", ".join(c.matcher for c in checks if not c.matched)
        step.outcome = f"not matched ({failed} failed)"
        return []
    selected: list[Route] = []
    stopped_by: str | None = None
    for child in route.routes:
        if stopped_by is not None:
            steps.append(
                RouteStep(
                    child.id,
                    depth + 1,
                    child.receiver,
                    child.continue_,
                    evaluated=False,
                    matched=False,
                    outcome=f"not tried: {stopped_by} matched without continue",
                )
            )
            continue
        found = _match(child, labels, depth + 1, steps)
        selected.extend(found)
        if found and not child.continue_:
            stopped_by = child.id
    what = "all matchers matched" if checks else "no matchers (matches every alert)"
    if selected:
        step.outcome = f"{what}; handled by child routes"
    else:
        step.outcome = f"{what}; no child route matched, so this route is selected"
        selected = [route]
    if route.continue_:
        step.outcome += "; continue: true, so later sibling routes are tried too"
    return selected


class _Parser:
    def __init__(self, time_intervals: frozenset[str], receivers: frozenset[str] | set[str] | None):
        self.time_intervals = time_intervals
        self.receivers = receivers

    def route(self, path: str, config: object, parent: Route | None) -> Route:
        if not isinstance(config, dict):
            raise ConfigError(path, "expected a map")
        for key in config:
            if key not in _ROUTE_FIELDS:
                raise ConfigError(
                    f"{path}.{key}", f"unknown field (expected one of {sorted(_ROUTE_FIELDS)})"
                )
        base = parent or Route(id=path, receiver="")
        receiver = config.get("receiver", base.receiver)
        if not isinstance(receiver, str) or not receiver:
            raise ConfigError(f"{path}.receiver", "expected a receiver name")
        if self.receivers is not None and receiver not in self.receivers:
            raise ConfigError(f"{path}.receiver", f"undefined receiver {receiver!r}")
        group_by, group_by_all = self.group_by(path, config, base)
        matchers = matchers_from_config(f"{path}.matchers", config.get("matchers"))
        matchers += legacy_matchers(path, config)
        route = Route(
            id=path,
            receiver=receiver,
            matchers=tuple(matchers),
            continue_=self.flag(path, config, "continue", False),
            group_by=group_by,
            group_by_all=group_by_all,
            group_wait=self.duration(path, config, "group_wait", base.group_wait),
            group_interval=self.duration(path, config, "group_interval", base.group_interval),
            repeat_interval=self.duration(path, config, "repeat_interval", base.repeat_interval),
            mute_time_intervals=self.interval_names(path, config, "mute_time_intervals"),
            active_time_intervals=self.interval_names(path, config, "active_time_intervals"),
            send_resolved=self.flag(path, config, "send_resolved", base.send_resolved),
            send_resolved_after_silence=self.flag(
                path,
                config,
                "send_resolved_for_silenced",
                self.flag(
                    path, config, "send_resolved_after_silence", base.send_resolved_after_silence
                ),
            ),
        )
        if route.group_interval <= 0:
            raise ConfigError(f"{path}.group_interval", "must be greater than zero")
        if route.repeat_interval <= 0:
            raise ConfigError(f"{path}.repeat_interval", "must be greater than zero")
        children = config.get("routes") or []
        if not isinstance(children, list):
            raise ConfigError(f"{path}.routes", "expected a list of routes")
        built = tuple(
            self.route(f"{path}.routes[{i}]", child, route) for i, child in enumerate(children)
        )
        return replace(route, routes=built)

    @staticmethod
    def group_by(path: str, config: dict[str, Any], base: Route) -> tuple[tuple[str, ...], bool]:
        if "group_by" not in config:
            return base.group_by, base.group_by_all
        value = config["group_by"] or []
        if not isinstance(value, list):
            raise ConfigError(f"{path}.group_by", "expected a list of label names or ['...']")
        if GROUP_BY_ALL in value:
            if len(value) > 1:
                raise ConfigError(
                    f"{path}.group_by",
                    "'...' groups by all labels and cannot be combined with names",
                )
            return (), True
        for index, name in enumerate(value):
            if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
                raise ConfigError(f"{path}.group_by[{index}]", f"invalid label name {name!r}")
        if len(set(value)) != len(value):
            raise ConfigError(f"{path}.group_by", "duplicate label names")
        return tuple(value), False

    @staticmethod
    def duration(path: str, config: dict[str, Any], key: str, default: float) -> float:
        if key not in config:
            return default
        return parse_duration(f"{path}.{key}", config[key])

    @staticmethod
    def flag(path: str, config: dict[str, Any], key: str, default: bool) -> bool:
        value = config.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{path}.{key}", f"expected true or false, got {value!r}")
        return value

    def interval_names(self, path: str, config: dict[str, Any], key: str) -> tuple[str, ...]:
        value = config.get(key) or []
        if not isinstance(value, list):
            raise ConfigError(f"{path}.{key}", "expected a list of time interval names")
        for index, name in enumerate(value):
            if name not in self.time_intervals:
                raise ConfigError(f"{path}.{key}[{index}]", f"undefined time interval {name!r}")
        return tuple(value)
