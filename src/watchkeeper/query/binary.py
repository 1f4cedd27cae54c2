"""Binary operators: arithmetic, comparisons (with or without `bool`) and set operators
between scalars and instant vectors, with on/ignoring/group_left/group_right matching.

Mirrors VectorBinop, VectorscalarBinop, VectorAnd/Or/Unless and resultMetric of
Prometheus 2.42 (promql/engine.go), evaluated for every step at once: a matched pair of
series produces one output row, present at the steps where both sides are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from watchkeeper.domain.series import METRIC_NAME_LABEL, Labels, labels_from_dict
from watchkeeper.query.errors import QueryError
from watchkeeper.query.values import (
    Bools,
    Floats,
    InstantVector,
    drop_metric_name,
    merge_same_labels,
)

ARITHMETIC: dict[str, Callable[[Floats, Floats], Floats]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": np.power,
    "atan2": np.arctan2,
}
COMPARISON: dict[str, Callable[[Floats, Floats], Bools]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}
SET_OPERATORS = ("and", "or", "unless")
# shouldDropMetricName in Prometheus 2.42: atan2 keeps the name, as comparisons do.
DROPS_NAME = ("+", "-", "*", "/", "%", "^")


@dataclass
class Matching:
    """Vector matching: `on` lists the labels to match on, else `labels` are ignored."""

    card: str = "one-to-one"  # one-to-one | many-to-one | one-to-many | many-to-many
    on: bool = False
    labels: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)

    def signature(self, labels: Labels) -> Labels:
        if self.on:
            wanted = set(self.labels)
            return tuple(p for p in labels if p[0] in wanted)
        ignored = set(self.labels)
        return tuple(p for p in labels if p[0] not in ignored and p[0] != METRIC_NAME_LABEL)


def scalar_op(op: str, lhs: Floats, rhs: Floats) -> Floats:
    with np.errstate(all="ignore"):
        if op in COMPARISON:
            return COMPARISON[op](lhs, rhs).astype(np.float64)
        return ARITHMETIC[op](lhs, rhs)


def vector_scalar(
    op: str, vector: InstantVector, scalar: Floats, *, scalar_left: bool, return_bool: bool
) -> InstantVector:
    """VectorscalarBinop: a comparison keeps (or, with bool, reports) the vector's value."""
    lhs, rhs = (scalar[None, :], vector.values) if scalar_left else (vector.values, scalar[None, :])
    present = vector.present
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            values = ARITHMETIC[op](lhs, rhs)
            labels = vector.labels
            if op in DROPS_NAME:
                labels = [drop_metric_name(lbls) for lbls in vector.labels]
        else:
            keep = COMPARISON[op](lhs, rhs)
            if return_bool:
                values = keep.astype(np.float64)
                labels = [drop_metric_name(lbls) for lbls in vector.labels]
            else:
                values = vector.values
                present = present & keep
                labels = vector.labels
    return merge_same_labels(InstantVector(labels, values, present))


def _group_rows(vector: InstantVector, matching: Matching) -> dict[Labels, list[int]]:
    groups: dict[Labels, list[int]] = {}
    for row, labels in enumerate(vector.labels):
        groups.setdefault(matching.signature(labels), []).append(row)
    return groups


def _describe(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def vector_vector(
    op: str, lhs: InstantVector, rhs: InstantVector, matching: Matching, *, return_bool: bool
) -> InstantVector:
    """VectorBinop for one-to-one, many-to-one (group_left) and one-to-many (group_right)."""
    steps = lhs.values.shape[1]
    many, one = (rhs, lhs) if matching.card == "one-to-many" else (lhs, rhs)
    one_side = "left" if matching.card == "one-to-many" else "right"
    one_groups = _group_rows(one, matching)
    for sig, rows in one_groups.items():
        if len(rows) > 1 and (one.present[rows].sum(axis=0) > 1).any():
            raise QueryError(
                f"found duplicate series for the match group {_describe(sig)} on the {one_side} "
                "hand-side of the operation; many-to-many matching not allowed: "
                "matching labels must be unique on one side"
            )
    pair_many: list[int] = []
    pair_one: list[int] = []
    pair_sig: list[int] = []
    sig_ids: dict[Labels, int] = {}
    for row, labels in enumerate(many.labels):
        sig = matching.signature(labels)
        for partner in one_groups.get(sig, ()):
            pair_many.append(row)
            pair_one.append(partner)
            pair_sig.append(sig_ids.setdefault(sig, len(sig_ids)))
    if not pair_many:
        return InstantVector.empty(steps)
    m_idx, o_idx = np.asarray(pair_many), np.asarray(pair_one)
    m_vals, o_vals = many.values[m_idx], one.values[o_idx]
    vl, vr = (o_vals, m_vals) if matching.card == "one-to-many" else (m_vals, o_vals)
    present = many.present[m_idx] & one.present[o_idx]
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            values = ARITHMETIC[op](vl, vr)
        else:
            keep = COMPARISON[op](vl, vr)
            if return_bool:
                values = keep.astype(np.float64)
            else:
                values = vl
                present = present & keep
    if matching.card == "one-to-one":
        per_sig = np.zeros((len(sig_ids), steps), dtype=np.int64)
        np.add.at(per_sig, np.asarray(pair_sig), present)
        if (per_sig > 1).any():
            raise QueryError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
    out_labels = [
        _result_labels(many.labels[m], one.labels[o], op, matching, return_bool)
        for m, o in zip(pair_many, pair_one, strict=True)
    ]
    return merge_same_labels(InstantVector(out_labels, values, present))


def _result_labels(
    many: Labels, one: Labels, op: str, matching: Matching, return_bool: bool
) -> Labels:
    """resultMetric: which labels a matched pair's output carries."""
    out = dict(many)
    if op in DROPS_NAME or return_bool:
        out.pop(METRIC_NAME_LABEL, None)
    if matching.card == "one-to-one":
        if matching.on:
            out = {k: v for k, v in out.items() if k in set(matching.labels)}
        else:
            for name in matching.labels:
                out.pop(name, None)
    if matching.include:
        one_dict = dict(one)
        for name in matching.include:
            out[name] = one_dict.get(name, "")
    return labels_from_dict(out)


def _sig_presence(vector: InstantVector, matching: Matching) -> tuple[list[Labels], Bools]:
    """Each row's signature and, per signature, the steps where some row is present."""
    sigs = [matching.signature(labels) for labels in vector.labels]
    ids: dict[Labels, int] = {}
    row_ids = np.asarray([ids.setdefault(sig, len(ids)) for sig in sigs], dtype=np.int64)
    presence = np.zeros((len(ids), vector.values.shape[1]), dtype=bool)
    if len(row_ids):
        np.logical_or.at(presence, row_ids, vector.present)
    return sigs, presence[row_ids] if len(ids) else presence


def _matched_by(other: InstantVector, rows: InstantVector, matching: Matching, steps: int) -> Bools:
    """Per row of `rows` and step: whether `other` has a series of the same signature then."""
    sigs, presence = _sig_presence(other, matching)
    by_sig = dict(zip(sigs, list(presence), strict=True))
    none = np.zeros(steps, dtype=bool)
    return np.array(
        [by_sig.get(matching.signature(lbls), none) for lbls in rows.labels], dtype=bool
    ).reshape(rows.present.shape)


def set_operation(
    op: str, lhs: InstantVector, rhs: InstantVector, matching: Matching
) -> InstantVector:
    """and / or / unless, decided per step on the match signatures present at that step."""
    steps = lhs.values.shape[1]
    if op in ("and", "unless"):
        matched = _matched_by(rhs, lhs, matching, steps)
        present = lhs.present & (matched if op == "and" else ~matched)
        return InstantVector(lhs.labels, lhs.values, present).drop_empty_rows()
    blocked = _matched_by(lhs, rhs, matching, steps)
    combined = InstantVector(
        lhs.labels + rhs.labels,
        np.concatenate([lhs.values, rhs.values]),
        np.concatenate([lhs.present, rhs.present & ~blocked]),
    )
    return merge_same_labels(combined.drop_empty_rows())
