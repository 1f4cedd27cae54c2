"""Functions over instant vectors and scalars (abs, clamp, round, absent, sort, ...).

Each mirrors promql/functions.go of Prometheus 2.42: element-wise math drops the metric
name; `sort`, `sort_desc` and `label_replace` keep it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from watchkeeper.domain.regex import AnchoredRegex, RegexError, compile_anchored
from watchkeeper.domain.series import LABEL_NAME_RE, Labels, labels_from_dict
from watchkeeper.query.errors import QueryError
from watchkeeper.query.values import (
    Bools,
    Floats,
    InstantVector,
    drop_metric_name,
    merge_same_labels,
)

ElementWise = Callable[[Floats], Floats]


def _sgn(v: Floats) -> Floats:
    return np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))


MATH_FUNCTIONS: dict[str, ElementWise] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": lambda v: v * np.pi / 180,
    "deg": lambda v: v * 180 / np.pi,
    "sgn": _sgn,
}


def apply_elementwise(vector: InstantVector, fn: ElementWise) -> InstantVector:
    """simpleFunc: fn over every value, metric name dropped."""
    with np.errstate(all="ignore"):
        values = fn(vector.values)
    labels = [drop_metric_name(lbls) for lbls in vector.labels]
    return merge_same_labels(InstantVector(labels, values, vector.present))


def clamp(vector: InstantVector, low: Floats, high: Floats) -> InstantVector:
    """clamp(v, min, max): no output at steps where max < min; NaN bounds propagate (math.Max)."""
    with np.errstate(invalid="ignore"):
        values = np.maximum(low[None, :], np.minimum(high[None, :], vector.values))
    present = vector.present & ~(high < low)[None, :]
    labels = [drop_metric_name(lbls) for lbls in vector.labels]
    return merge_same_labels(InstantVector(labels, values, present))


def round_to(vector: InstantVector, to_nearest: Floats) -> InstantVector:
    """round(v, to_nearest): floor(v / to_nearest + 0.5) computed with the inverse, as Go does."""
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest[None, :]
        values = np.floor(vector.values * inverse + 0.5) / inverse
    labels = [drop_metric_name(lbls) for lbls in vector.labels]
    return merge_same_labels(InstantVector(labels, values, vector.present))


def absent(vector: InstantVector, labels: Labels) -> InstantVector:
    """1 with the selector's equality labels at steps where the argument is empty."""
    missing: Bools = np.asarray(~vector.present.any(axis=0))
    return InstantVector([labels], np.ones((1, missing.size)), missing[None, :])


def scalar_of(vector: InstantVector) -> Floats:
    """scalar(v): the single element's value, NaN unless exactly one element."""
    one = vector.present.sum(axis=0) == 1
    picked = np.where(vector.present, vector.values, 0.0).sum(axis=0) if len(vector) else one * 0.0
    return np.where(one, picked, np.nan)


def vector_of(values: Floats) -> InstantVector:
    return InstantVector([()], values[None, :].copy(), np.ones((1, len(values)), dtype=bool))


def label_replace(
    vector: InstantVector, dst: str, replacement: str, src: str, pattern: str
) -> InstantVector:
    """label_replace: set dst from a regex match on src, Go `$1`/`${name}` templates."""
    try:
        regex = compile_anchored(pattern, captures=True)
    except RegexError as exc:
        raise QueryError(
            f"invalid regular expression in label_replace(): {exc.pattern}: {exc.reason}"
        ) from None
    if not LABEL_NAME_RE.match(dst):
        raise QueryError(f"invalid destination label name in label_replace(): {dst}")
    out = []
    for labels in vector.labels:
        as_dict = dict(labels)
        groups = regex.groups(as_dict.get(src, ""))
        if groups is not None:
            as_dict[dst] = _expand(regex, groups, replacement)
            labels = labels_from_dict(as_dict)
        out.append(labels)
    return merge_same_labels(InstantVector(out, vector.values, vector.present))


_GO_GROUP = re.compile(r"\$(?:\{(\w+)\}|(\w+)|\$)")


def _expand(regex: AnchoredRegex, groups: list[str | None], template: str) -> str:
    """Go's regexp.Expand: $1, ${1}, $name, $$; an unknown group expands to ""."""

    def group(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name is None:
            return "$"
        index = int(name) if name.isdigit() else regex.group_names.get(name)
        if index is None or index >= len(groups):
            return ""
        return groups[index] or ""

    return _GO_GROUP.sub(group, template)


def label_join(
    vector: InstantVector, dst: str, separator: str, sources: list[str]
) -> InstantVector:
    """label_join: dst = the source labels' values joined by separator (empty removes dst)."""
    if not LABEL_NAME_RE.match(dst):
        raise QueryError(f"invalid destination label name in label_join(): {dst}")
    out = []
    for labels in vector.labels:
        as_dict = dict(labels)
        as_dict[dst] = separator.join(as_dict.get(src, "") for src in sources)
        out.append(labels_from_dict(as_dict))
    return merge_same_labels(InstantVector(out, vector.values, vector.present))


def _unix_seconds(values: Floats) -> np.ndarray:
    """Go's time.Unix(int64(v), 0): truncation toward zero."""
    return np.trunc(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)).astype(np.int64)


def _calendar(field: str, values: Floats) -> Floats:
    seconds = _unix_seconds(values)
    moment = seconds.astype("datetime64[s]")
    month_start = moment.astype("datetime64[M]")
    if field == "year":
        out = moment.astype("datetime64[Y]").astype(np.int64) + 1970
    elif field == "month":
        out = month_start.astype(np.int64) % 12 + 1
    elif field == "day_of_month":
        out = (moment.astype("datetime64[D]") - month_start).astype(np.int64) + 1
    elif field == "day_of_week":
        out = (moment.astype("datetime64[D]").astype(np.int64) + 4) % 7  # 1970-01-01: Thursday
    elif field == "days_in_month":
        out = ((month_start + 1).astype("datetime64[D]") - month_start).astype(np.int64)
    elif field == "hour":
        out = (seconds // 3600) % 24
    else:  # minute
        out = (seconds // 60) % 60
    return out.astype(np.float64)


CALENDAR_FUNCTIONS = (
    "year",
    "month",
    "day_of_month",
    "day_of_week",
    "days_in_month",
    "hour",
    "minute",
)


def calendar(field: str, vector: InstantVector) -> InstantVector:
    """year(), hour(), ...: fields of the values read as Unix seconds, in UTC."""
    labels = [drop_metric_name(lbls) for lbls in vector.labels]
    return merge_same_labels(InstantVector(labels, _calendar(field, vector.values), vector.present))
