"""Parsing with `promql-parser` and reading its AST into the engine's plain terms.

The Rust parser implements a newer PromQL than Prometheus 2.42; constructs 2.42 lacks
(`or` inside selector braces, `fill()` modifiers) are refused as unsupported rather than
guessed at.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import promql_parser as pp

from watchkeeper.domain.series import METRIC_NAME_LABEL, Labels, Matcher, MatchOp, labels_from_dict
from watchkeeper.query.binary import Matching
from watchkeeper.query.errors import UnsupportedQueryError, bad_data
from watchkeeper.query.limits import QueryLimits, check_query_text
from watchkeeper.query.regexes import check_regexes

DEFAULT_LIMITS = QueryLimits()

K = TypeVar("K")
V = TypeVar("V")

# The bindings' enums are not hashable, hence lists of pairs rather than dicts.
_MATCH_OPS = [
    (pp.MatchOp.Equal, MatchOp.EQUAL),
    (pp.MatchOp.NotEqual, MatchOp.NOT_EQUAL),
    (pp.MatchOp.Re, MatchOp.REGEX),
    (pp.MatchOp.NotRe, MatchOp.NOT_REGEX),
]
_CARDINALITY = [
    (pp.VectorMatchCardinality.OneToOne, "one-to-one"),
    (pp.VectorMatchCardinality.ManyToOne, "many-to-one"),
    (pp.VectorMatchCardinality.OneToMany, "one-to-many"),
    (pp.VectorMatchCardinality.ManyToMany, "many-to-many"),
]


def _lookup(pairs: list[tuple[K, V]], key: K) -> V:
    for candidate, value in pairs:
        if candidate == key:
            return value
    raise UnsupportedQueryError(f"parser value {key}")


_PROMETHEUS_2_FUNCTIONS = [
    # Renamed double_exponential_smoothing in Prometheus 3, so the bindings do not know it.
    pp.Function(
        "holt_winters",
        [pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Scalar],
        pp.ValueType.Vector,
    ),
]
_registered = False


def _register_prometheus_2_functions() -> None:
    global _registered
    if not _registered:
        try:
            pp.register_extra_functions(_PROMETHEUS_2_FUNCTIONS)
        except ValueError:  # a later parser version knows it already
            pass
        _registered = True


def parse(query: str, limits: QueryLimits = DEFAULT_LIMITS) -> pp.Expr:
    """The AST of `query`; a syntax error is a `bad_data` QueryError as in Prometheus.

    The only door to the parser: text too long or nested too deep for it (or for the
    evaluator) is refused first, as bad_data naming the limit (see limits.py).
    """
    check_query_text(query, limits)
    _register_prometheus_2_functions()
    try:
        node = pp.parse(query)
    except ValueError as exc:
        raise bad_data(f"1:1: parse error: {exc}") from exc
    check_regexes(node)  # RE2, as Prometheus compiles them (query/regexes.py)
    return node


def unwrap_parens(node: pp.Expr) -> pp.Expr:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def duration_ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return delta // timedelta(milliseconds=1)


def duration_of(node: pp.Expr, name: str) -> int | None:
    """`node.<name>` (offset, range, step) in ms, None when absent.

    The bindings parse durations of millions of years but fail converting them to Python
    (a ValueError at attribute access): that is the caller's bad input, not an engine fault.
    """
    try:
        delta = getattr(node, name)
    except (ValueError, OverflowError) as exc:
        raise bad_data(f"{name} duration out of range: {exc}") from None
    return None if delta is None else duration_ms(delta)


def matchers_of(selector: pp.VectorSelector) -> list[Matcher]:
    if selector.matchers.or_matchers:
        raise UnsupportedQueryError("'or' inside selector braces")
    out = [Matcher(m.name, _lookup(_MATCH_OPS, m.op), m.value) for m in selector.matchers.matchers]
    if selector.name is not None:
        out.append(Matcher(METRIC_NAME_LABEL, MatchOp.EQUAL, selector.name))
    return out


def absent_labels(selector: pp.VectorSelector) -> Labels:
    """createLabelsForAbsentFunction: equality matchers' labels, unless a name repeats."""
    labels: dict[str, str] = {}
    ambiguous: list[str] = []
    for m in matchers_of(selector):
        if m.name == METRIC_NAME_LABEL:
            continue
        if m.op is MatchOp.EQUAL and m.name not in labels:
            labels[m.name] = m.value
        else:
            ambiguous.append(m.name)
    for name in ambiguous:
        labels.pop(name, None)
    return labels_from_dict(labels)


def at_ms(at: pp.AtModifier | None, start_ms: int, end_ms: int) -> int | None:
    """The @ time in ms: a timestamp, start() or end() of the query."""
    if at is None:
        return None
    if at.type == pp.AtModifierType.Start:
        return start_ms
    if at.type == pp.AtModifierType.End:
        return end_ms
    try:
        moment = at.at
    except BaseException as exc:  # the bindings panic on times before 1970
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise UnsupportedQueryError("@ modifier with a time before 1970") from exc
    assert moment is not None
    return round(moment.timestamp() * 1000)


def matching_of(modifier: pp.BinModifier | None, set_operator: bool) -> Matching:
    if modifier is None:
        return Matching(card="many-to-many" if set_operator else "one-to-one")
    fill = modifier.fill_values
    if fill.lhs is not None or fill.rhs is not None:
        raise UnsupportedQueryError("fill() vector matching modifier")
    labels = modifier.matching
    return Matching(
        card=_lookup(_CARDINALITY, modifier.card),
        on=labels is not None and labels.type == pp.LabelModifierType.Include,
        labels=list(labels.labels) if labels is not None else [],
        include=list(modifier.group_labels or []),
    )
