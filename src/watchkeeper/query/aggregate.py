"""Aggregation operators (sum, avg, count, min, max, stddev, stdvar, group, topk, bottomk,
quantile, count_values) with by/without, over all groups and steps at once.

Rows are sorted by group so each group is a contiguous block and a ufunc's `reduceat` folds
it in input order, like the loop in Prometheus' aggregation(). stddev/stdvar replay the
same Welford update, one group member at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from watchkeeper.domain.series import LABEL_NAME_RE, METRIC_NAME_LABEL, Labels, labels_from_dict
from watchkeeper.query.budget import check_time, reserve
from watchkeeper.query.errors import QueryError, UnsupportedQueryError
from watchkeeper.query.range_functions import sorted_quantile
from watchkeeper.query.result import format_value
from watchkeeper.query.values import Floats, InstantVector, Ints


@dataclass
class Grouping:
    """Which group each row falls in, and the rows ordered group by group."""

    labels: list[Labels]
    group_of: Ints
    order: Ints
    starts: Ints

    @staticmethod
    def of(vector: InstantVector, names: list[str], without: bool) -> Grouping:
        wanted = set(names)
        if without:
            wanted.add(METRIC_NAME_LABEL)
            keys = [tuple([p for p in lbls if p[0] not in wanted]) for lbls in vector.labels]
        else:
            keys = [tuple([p for p in lbls if p[0] in wanted]) for lbls in vector.labels]
        ids: dict[Labels, int] = {}
        group_of = np.fromiter(
            (ids.setdefault(key, len(ids)) for key in keys), dtype=np.int64, count=len(keys)
        )
        order = np.argsort(group_of, kind="stable")
        sizes = np.bincount(group_of, minlength=len(ids))
        starts = np.zeros(len(ids), dtype=np.int64)
        np.cumsum(sizes[:-1], out=starts[1:])
        return Grouping(list(ids), group_of, order, starts)


def aggregate(
    op: str, vector: InstantVector, names: list[str], without: bool, param: Floats | None
) -> InstantVector:
    steps = vector.values.shape[1]
    if len(vector) == 0:
        return InstantVector.empty(steps)
    grouping = Grouping.of(vector, names, without)
    if op in ("topk", "bottomk"):
        assert param is not None
        return _top(vector, grouping, param, largest=op == "topk")
    values = vector.values[grouping.order]
    present = vector.present[grouping.order]
    any_present = np.logical_or.reduceat(present, grouping.starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if op == "sum":
            out = np.add.reduceat(np.where(present, values, 0.0), grouping.starts, axis=0)
        elif op == "count":
            out = np.add.reduceat(present.astype(np.float64), grouping.starts, axis=0)
        elif op == "avg":
            total = np.add.reduceat(np.where(present, values, 0.0), grouping.starts, axis=0)
            count = np.add.reduceat(present.astype(np.float64), grouping.starts, axis=0)
            out = total / count
        elif op == "min":
            out = np.fmin.reduceat(np.where(present, values, np.nan), grouping.starts, axis=0)
        elif op == "max":
            out = np.fmax.reduceat(np.where(present, values, np.nan), grouping.starts, axis=0)
        elif op == "group":
            out = np.ones(any_present.shape)
        elif op in ("stddev", "stdvar"):
            var = _welford_variance(values, present, grouping)
            out = np.sqrt(var) if op == "stddev" else var
        elif op == "quantile":
            assert param is not None
            out = _group_quantile(vector, grouping, param)
        else:
            raise UnsupportedQueryError(f"{op} aggregation")
    return InstantVector(grouping.labels, out, any_present)


def _welford_variance(values: Floats, present: np.ndarray, grouping: Grouping) -> Floats:
    """Prometheus' running mean/variance update, replayed member by member (rows sorted)."""
    n_groups, steps = len(grouping.starts), values.shape[1]
    sizes = np.diff(np.append(grouping.starts, len(values)))
    count = np.zeros((n_groups, steps))
    mean = np.zeros((n_groups, steps))
    aux = np.zeros((n_groups, steps))
    for member in range(int(sizes.max())):
        check_time("stddev/stdvar aggregation")
        groups = np.flatnonzero(sizes > member)
        v = values[grouping.starts[groups] + member]
        p = present[grouping.starts[groups] + member]
        c, m, a = count[groups], mean[groups], aux[groups]
        first = p & (c == 0)
        later = p & (c > 0)
        c_new = c + p
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = v - m
            m_new = np.where(later, m + delta / np.maximum(c_new, 1), np.where(first, v, m))
            a_new = np.where(later, a + delta * (v - m_new), np.where(first, 0.0, a))
        count[groups], mean[groups], aux[groups] = c_new, m_new, a_new
    with np.errstate(invalid="ignore", divide="ignore"):
        result: Floats = aux / count
    return result


def _sorted_within_groups(
    vector: InstantVector, grouping: Grouping, value_key: Floats, nan_class: int
) -> tuple[Ints, Ints]:
    """Per step, row order: by group, then present-and-number / NaN / absent, then value_key."""
    is_nan = np.isnan(vector.values)
    number_class = 1 - nan_class
    cls = np.where(vector.present, np.where(is_nan, nan_class, number_class), 2)
    key = np.where(is_nan, 0.0, value_key)
    group = np.broadcast_to(grouping.group_of[:, None], cls.shape)
    order = np.lexsort((key, cls, group), axis=0)
    position = np.arange(len(vector))[:, None] - grouping.starts[grouping.group_of[order]]
    return order, position


def _top(vector: InstantVector, grouping: Grouping, k: Floats, *, largest: bool) -> InstantVector:
    """topk/bottomk: the k best present rows per group and step; NaN ranks last."""
    with np.errstate(invalid="ignore"):
        key = -vector.values if largest else vector.values
        order, position = _sorted_within_groups(vector, grouping, key, nan_class=1)
        limit = np.trunc(np.nan_to_num(k, nan=0.0, posinf=2**62, neginf=-(2**62)))
    chosen = (position < limit[None, :]) & np.take_along_axis(vector.present, order, axis=0)
    selected = np.zeros_like(vector.present)
    np.put_along_axis(selected, order, chosen, axis=0)
    return InstantVector(vector.labels, vector.values, selected).drop_empty_rows()


def _group_quantile(vector: InstantVector, grouping: Grouping, q: Floats) -> Floats:
    """quantile(q, v) per group and step: NaN sorts first, linear interpolation."""
    n_groups, steps = len(grouping.starts), vector.values.shape[1]
    out = np.empty((n_groups, steps))
    for g in range(n_groups):
        check_time("quantile aggregation")
        rows = grouping.order[grouping.starts[g] : grouping.starts[g] + _size(grouping, g)]
        vals = vector.values[rows].T
        inside = vector.present[rows].T
        out[g] = sorted_quantile(vals, inside, q)
    return out


def _size(grouping: Grouping, g: int) -> int:
    end = grouping.starts[g + 1] if g + 1 < len(grouping.starts) else len(grouping.order)
    return int(end - grouping.starts[g])


def count_values(
    label: str, vector: InstantVector, names: list[str], without: bool
) -> InstantVector:
    """count_values("label", v): per group and step, how many elements have each value.

    As in Prometheus, the value (formatted like the JSON output) is set as `label` on each
    element before grouping, and `by` groups on `label` too.
    """
    if not LABEL_NAME_RE.match(label):
        raise QueryError(f'invalid label name "{label}"')
    steps = vector.values.shape[1]
    rows, cols = np.nonzero(vector.present)
    if len(rows) == 0:
        return InstantVector.empty(steps)
    distinct, which = np.unique(vector.values[rows, cols], return_inverse=True)
    texts = [format_value(v) for v in distinct.tolist()]
    pairs, pair_of_sample = np.unique(rows * len(distinct) + which, return_inverse=True)
    pair_labels = [
        labels_from_dict(
            {**dict(vector.labels[p // len(distinct)]), label: texts[p % len(distinct)]}
        )
        for p in pairs.tolist()
    ]
    dummy = np.zeros((len(pair_labels), 1))
    grouping = Grouping.of(
        InstantVector(pair_labels, dummy, dummy.astype(bool)),
        names if without else [*names, label],
        without,
    )
    # One output series per distinct (group, value) at every step: up to samples x steps.
    reserve(
        len(grouping.labels) * steps,
        f"count_values() makes {len(grouping.labels):,} series x {steps:,} steps",
    )
    counts = np.zeros((len(grouping.labels), steps))
    np.add.at(counts, (grouping.group_of[pair_of_sample], cols), 1.0)
    return InstantVector(grouping.labels, counts, counts > 0)
