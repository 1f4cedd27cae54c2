"""histogram_quantile over classic `le` buckets, every group and step at once.

Mirrors funcHistogramQuantile/bucketQuantile of Prometheus 2.42: buckets are grouped by
all labels but `le` (the metric name included), sorted by upper bound, equal bounds summed,
counts forced monotonic; no +Inf bucket or fewer than two buckets gives NaN, as does an
empty histogram; the rank is interpolated linearly inside its bucket.
"""

from __future__ import annotations

import re

import numpy as np

from watchkeeper.domain.series import METRIC_NAME_LABEL, Labels
from watchkeeper.query.budget import reserve
from watchkeeper.query.values import Bools, Floats, InstantVector, merge_same_labels

BUCKET_LABEL = "le"
_GO_FLOAT = re.compile(r"^[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$", re.I)


def parse_upper_bound(text: str) -> float | None:
    """strconv.ParseFloat for `le` values; None where Go would fail (bucket skipped)."""
    if _GO_FLOAT.match(text):
        return float(text)
    try:
        return float.fromhex(text) if "0x" in text.lower() and "p" in text.lower() else None
    except ValueError:
        return None


def histogram_quantile(q: Floats, vector: InstantVector) -> InstantVector:
    steps = vector.values.shape[1]
    groups: dict[Labels, int] = {}
    out_labels: list[Labels] = []
    rows, group_of, bounds = [], [], []
    for row, labels in enumerate(vector.labels):
        le = next((v for k, v in labels if k == BUCKET_LABEL), "")
        bound = parse_upper_bound(le)
        if bound is None:
            continue
        key = tuple(pair for pair in labels if pair[0] != BUCKET_LABEL)
        gid = groups.get(key)
        if gid is None:
            gid = groups[key] = len(groups)
            out_labels.append(tuple(pair for pair in key if pair[0] != METRIC_NAME_LABEL))
        rows.append(row)
        group_of.append(gid)
        bounds.append(bound)
    if not rows:
        return InstantVector.empty(steps)
    row_arr = np.asarray(rows)
    gid_arr = np.asarray(group_of)
    bound_arr = np.asarray(bounds)
    counts, present, upper = _pad_buckets(vector, row_arr, gid_arr, bound_arr, len(groups))
    values, any_present = _bucket_quantile(q, counts, present, upper)
    return merge_same_labels(InstantVector(out_labels, values, any_present))


def _pad_buckets(
    vector: InstantVector, rows: np.ndarray, gids: np.ndarray, bounds: Floats, n_groups: int
) -> tuple[Floats, np.ndarray, Floats]:
    """(groups, buckets, steps) counts and presence, buckets sorted by bound, equal ones summed."""
    order = np.lexsort((bounds, gids))
    rows, gids, bounds = rows[order], gids[order], bounds[order]
    # Coalesce equal bounds within a group into one bucket slot.
    new_slot = np.ones(len(rows), dtype=bool)
    new_slot[1:] = (gids[1:] != gids[:-1]) | (bounds[1:] != bounds[:-1])
    group_start = np.ones(len(rows), dtype=bool)
    group_start[1:] = gids[1:] != gids[:-1]
    slot_number = np.cumsum(new_slot) - 1
    first_slot_of_group = slot_number[group_start]
    position = slot_number - first_slot_of_group[np.cumsum(group_start) - 1]
    width = int(position.max()) + 1
    steps = vector.values.shape[1]
    # Every group padded to the widest: groups x buckets x steps, counted before allocating.
    reserve(
        n_groups * width * steps,
        f"histogram_quantile() pads {n_groups:,} histograms to {width:,} buckets x {steps:,} steps",
    )
    counts = np.zeros((n_groups, width, steps))
    present = np.zeros((n_groups, width, steps), dtype=bool)
    upper = np.full((n_groups, width), np.inf)
    vals = np.where(vector.present[rows], vector.values[rows], 0.0)
    np.add.at(counts, (gids, position), vals)
    np.logical_or.at(present, (gids, position), vector.present[rows])
    upper[gids, position] = bounds
    return counts, present, upper


def _bucket_quantile(
    q: Floats, counts: Floats, present: Bools, upper: Floats
) -> tuple[Floats, Bools]:
    groups, width, steps = counts.shape
    idx = np.arange(width)[None, :, None]
    any_present = present.any(axis=1)
    n_present = present.sum(axis=1)
    last = width - 1 - np.argmax(present[:, ::-1, :], axis=1)  # (G, T)
    first = np.argmax(present, axis=1)
    g_index = np.arange(groups)[:, None]
    last_bound = upper[g_index, last]

    # ensureMonotonic: a NaN count stays NaN and does not raise the running maximum.
    nan = np.isnan(counts)
    running = np.maximum.accumulate(np.where(present & ~nan, counts, -np.inf), axis=1)
    mono = np.where(nan, np.nan, running)
    # Previous present bucket of every slot (-1 when none).
    prev_present = np.maximum.accumulate(np.where(present, idx, -1), axis=1)
    prev_present = np.concatenate([np.full((groups, 1, steps), -1), prev_present[:, :-1]], axis=1)

    t_index = np.arange(steps)[None, :]
    observations = mono[g_index, last, t_index]
    with np.errstate(invalid="ignore"):
        rank = q[None, :] * observations
        hit = present & (idx < last[:, None, :]) & (mono >= rank[:, None, :])
    found = hit.any(axis=1)
    b = np.where(found, np.argmax(hit, axis=1), last)
    before_last = prev_present[g_index, last, t_index]
    b_bound = upper[g_index, b]
    p = prev_present[g_index, b, t_index]
    has_prev = found & (b != first)
    p_safe = np.where(has_prev, p, 0)
    start = np.where(has_prev, upper[g_index, p_safe], 0.0)
    prev_count = np.where(has_prev, mono[g_index, p_safe, t_index], 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        inside = start + (b_bound - start) * (
            (rank - prev_count) / (mono[g_index, b, t_index] - prev_count)
        )
    result = np.where(
        ~found,
        upper[g_index, np.maximum(before_last, 0)],
        np.where((b == first) & (b_bound <= 0), b_bound, inside),
    )
    result = np.where(observations == 0, np.nan, result)
    result = np.where(n_present < 2, np.nan, result)
    result = np.where(np.isposinf(last_bound), result, np.nan)
    result = np.where(q[None, :] < 0, -np.inf, np.where(q[None, :] > 1, np.inf, result))
    return result.astype(np.float64), np.asarray(any_present)
