"""NAB v1.1 scoring (Numenta Anomaly Benchmark), implemented from its published definition.

Mirrors `nab/sweeper.py` and the corpus-wide threshold optimiser of NAB v1.1:

- each file's anomaly windows come from `combined_windows.json` (inclusive timestamp limits);
- the probationary period is `min(floor(0.15 * rows), 0.15 * 5000)` rows; every point in it,
  inside a window or not, is ignored;
- a detection at row i inside a window [L, R] (width W = R - L + 1) is worth
  `S(-(R - i + 1) / W) * A_TP / S(-1)`, where `S(p) = 2 / (1 + exp(5 p)) - 1` (or -1 when p >= 3);
  only the best (= earliest) detection in a window counts, so the first one at the window's
  start earns exactly A_TP; a window without a detection costs -A_FN;
- a detection outside windows costs `S((i - R_prev) / (W_prev - 1)) * A_FP` by its distance
  past the preceding window, or -A_FP when no window precedes it;
- a point is a detection when its anomaly score >= the threshold; NAB's scoreboard uses, per
  detector and profile, the single threshold that maximises the summed raw score over the corpus;
- normalised score = 100 * (raw - null) / (perfect - null), with null the score of a detector
  that never fires (-A_FN per window) and perfect A_TP per window.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

PROBATION_FRACTION = 0.15
PROBATION_CAP_ROWS = 5000  # NAB caps the probationary period at 15 % of 5000 rows

OUTSIDE = -1
PROBATION = -2


@dataclass(frozen=True, slots=True)
class CostProfile:
    """One of NAB's application profiles (the cost matrix of `profiles.json`)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD_PROFILES: tuple[CostProfile, ...] = (
    CostProfile("standard", 1.0, 0.11, 1.0),
    CostProfile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    CostProfile("reward_low_FN_rate", 1.0, 0.11, 2.0),
)


def load_profiles(path: Path) -> tuple[CostProfile, ...]:
    """Read NAB's `profiles.json`."""
    raw = json.loads(path.read_text())
    return tuple(
        CostProfile(
            name,
            float(p["CostMatrix"]["tpWeight"]),
            float(p["CostMatrix"]["fpWeight"]),
            float(p["CostMatrix"]["fnWeight"]),
        )
        for name, p in raw.items()
    )


def load_windows(path: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Read `combined_windows.json`: relative file path -> inclusive (start, end) limits."""
    raw = json.loads(path.read_text())
    return {
        name: [
            (np.datetime64(a.replace(" ", "T"), "us"), np.datetime64(b.replace(" ", "T"), "us"))
            for a, b in limits
        ]
        for name, limits in raw.items()
    }


@dataclass(frozen=True, slots=True)
class NabSeries:
    """One NAB data file: timestamps and values."""

    relative_path: str
    timestamps: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]

    @property
    def seconds(self) -> npt.NDArray[np.float64]:
        """Timestamps as float seconds since the epoch, the detectors' time axis."""
        return self.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6


def read_series(path: Path, relative_path: str) -> NabSeries:
    """Read a NAB data CSV (`timestamp,value`)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    body = rows[1:]
    ts = np.array([r[0].replace(" ", "T") for r in body], dtype="datetime64[us]")
    values = np.array([float(r[1]) for r in body], dtype=np.float64)
    return NabSeries(relative_path, ts, values)


def read_corpus(data_dir: Path, names: Iterable[str] | None = None) -> list[NabSeries]:
    """Every `<category>/<file>.csv` under `data_dir` (or only `names`), sorted by path."""
    if names is None:
        names = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.glob("*/*.csv"))
    return [read_series(data_dir / n, n) for n in names]


def probation_length(rows: int, fraction: float = PROBATION_FRACTION) -> float:
    """Rows at the start of a file whose detections NAB ignores."""
    return min(math.floor(fraction * rows), fraction * PROBATION_CAP_ROWS)


def scaled_sigmoid(position: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """NAB's reward curve: ~1 at a window's start, 0 at its end, -> -1 well after it."""
    out = 2.0 / (1.0 + np.exp(np.clip(5.0 * position, -700, 700))) - 1.0
    return np.where(position >= 3.0, -1.0, out)


_MAX_TP = float(scaled_sigmoid(np.array([-1.0]))[0])


@dataclass(frozen=True, slots=True)
class FileLayout:
    """Per-point window membership and sweep weights of one file, independent of the detector.

    `window` is the file-local window index, OUTSIDE, or PROBATION; `tp_unit` is the reward of a
    detection at that point inside its window for A_TP = 1; `fp_unit` the cost of a false
    positive there for A_FP = 1 (negative).
    """

    window: npt.NDArray[np.int64]
    tp_unit: npt.NDArray[np.float64]
    fp_unit: npt.NDArray[np.float64]
    windows_total: int
    windows_scorable: int


def file_layout(
    timestamps: npt.NDArray[np.datetime64],
    limits: Sequence[tuple[np.datetime64, np.datetime64]],
    probation_fraction: float = PROBATION_FRACTION,
) -> FileLayout:
    """Place every point relative to the anomaly windows, as NAB's sweeper does."""
    ts = timestamps.astype("datetime64[us]")
    n = len(ts)
    window = np.full(n, OUTSIDE, dtype=np.int64)
    tp_unit = np.zeros(n)
    fp_unit = np.full(n, -1.0)  # before any window: a flat -A_FP
    idx = np.arange(n)
    bounds: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(limits):
        left = int(np.searchsorted(ts, start, side="left"))
        right = int(np.searchsorted(ts, end, side="right")) - 1
        if right < left:
            continue
        bounds.append((left, right))
        width = right - left + 1
        window[left : right + 1] = k
        tp_unit[left : right + 1] = (
            scaled_sigmoid(-(right - idx[left : right + 1] + 1) / width) / _MAX_TP
        )
    for j, (left, right) in enumerate(bounds):
        width = right - left + 1
        stop = bounds[j + 1][0] if j + 1 < len(bounds) else n
        after = idx[right + 1 : stop]
        if len(after):
            denom = max(width - 1, 1)
            fp_unit[right + 1 : stop] = scaled_sigmoid((after - right) / denom)
    probation = math.ceil(probation_length(n, probation_fraction))
    window[:probation] = PROBATION
    scorable = len({int(w) for w in window if w >= 0})
    return FileLayout(window, tp_unit, fp_unit, len(bounds), scorable)


@dataclass(frozen=True, slots=True)
class ProfileScore:
    """A detector's NAB result for one profile at one threshold."""

    profile: str
    threshold: float
    raw: float
    normalised: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True, slots=True)
class FileScore:
    """Raw score of one file at a threshold (for per-file diagnostics)."""

    relative_path: str
    raw: float
    detected_windows: int
    windows: int
    false_positives: int


@dataclass(slots=True)
class NabScorer:
    """Scores anomaly-score series against NAB windows; one instance per corpus.

    Example::

        scorer = NabScorer.from_files(windows, corpus)
        result = scorer.score(scores_by_file, profile, threshold=0.5)
        best = scorer.optimise(scores_by_file, profile)
    """

    layouts: dict[str, FileLayout]
    windows_total: int = field(init=False)

    def __post_init__(self) -> None:
        self.windows_total = sum(lay.windows_total for lay in self.layouts.values())

    @classmethod
    def from_files(
        cls,
        windows: Mapping[str, Sequence[tuple[np.datetime64, np.datetime64]]],
        corpus: Sequence[NabSeries],
    ) -> NabScorer:
        return cls(
            {
                s.relative_path: file_layout(s.timestamps, windows.get(s.relative_path, []))
                for s in corpus
            }
        )

    def _normalise(self, raw: float, profile: CostProfile) -> float:
        scorable = sum(lay.windows_scorable for lay in self.layouts.values())
        null = -profile.fn_weight * scorable
        perfect = profile.tp_weight * self.windows_total
        return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0

    def score_file(
        self, name: str, scores: npt.NDArray[np.float64], profile: CostProfile, threshold: float
    ) -> FileScore:
        """Raw NAB score of one file when points with score >= threshold are detections."""
        lay = self.layouts[name]
        fired = (scores >= threshold) & (lay.window != PROBATION)
        fp_mask = fired & (lay.window == OUTSIDE)
        raw = float(np.sum(lay.fp_unit[fp_mask])) * profile.fp_weight
        detected = 0
        for w in {int(v) for v in lay.window if v >= 0}:
            hits = fired & (lay.window == w)
            if hits.any():
                detected += 1
                raw += float(np.max(lay.tp_unit[hits])) * profile.tp_weight
            else:
                raw -= profile.fn_weight
        return FileScore(name, raw, detected, lay.windows_scorable, int(fp_mask.sum()))

    def score(
        self, scores: Mapping[str, npt.NDArray[np.float64]], profile: CostProfile, threshold: float
    ) -> ProfileScore:
        """Corpus score at a fixed threshold (the detector's own decision rule)."""
        files = [self.score_file(n, scores[n], profile, threshold) for n in self.layouts]
        raw = sum(f.raw for f in files)
        tp = sum(f.detected_windows for f in files)
        fn = sum(f.windows - f.detected_windows for f in files)
        fp = sum(f.false_positives for f in files)
        return ProfileScore(profile.name, threshold, raw, self._normalise(raw, profile), tp, fp, fn)

    def optimise(
        self, scores: Mapping[str, npt.NDArray[np.float64]], profile: CostProfile
    ) -> ProfileScore:
        """The corpus-wide threshold that maximises the raw score, as NAB's optimiser finds it."""
        all_scores: list[npt.NDArray[np.float64]] = []
        fp_gain: list[npt.NDArray[np.float64]] = []
        tp_gain: list[npt.NDArray[np.float64]] = []
        win_id: list[npt.NDArray[np.int64]] = []
        offset = 0
        for name, lay in self.layouts.items():
            keep = lay.window != PROBATION
            s = np.asarray(scores[name], dtype=np.float64)[keep]
            w = lay.window[keep]
            all_scores.append(s)
            fp_gain.append(np.where(w == OUTSIDE, lay.fp_unit[keep] * profile.fp_weight, 0.0))
            tp_gain.append(np.where(w >= 0, lay.tp_unit[keep] * profile.tp_weight, 0.0))
            win_id.append(np.where(w >= 0, w + offset, -1))
            offset += max(lay.windows_total, 1)
        s_all = np.concatenate(all_scores)
        order = np.argsort(-s_all, kind="stable")
        s_sorted = s_all[order]
        fp_cum = np.cumsum(np.concatenate(fp_gain)[order])
        tp_sorted = np.concatenate(tp_gain)[order]
        win_sorted = np.concatenate(win_id)[order]
        fp_sorted = win_sorted < 0
        fp_count = np.cumsum(fp_sorted)

        # Window part: walk only the in-window points, keeping each window's best reward so far.
        scorable_windows = np.unique(win_sorted[win_sorted >= 0])
        best = dict.fromkeys(scorable_windows.tolist(), -profile.fn_weight)
        window_total = np.empty(len(s_sorted))
        tp_count = np.empty(len(s_sorted), dtype=np.int64)
        total = -profile.fn_weight * len(best)
        detected = 0
        for i in range(len(s_sorted)):
            w = int(win_sorted[i])
            if w >= 0:
                old = best[w]
                new = max(old, float(tp_sorted[i]))
                if old == -profile.fn_weight and new != old:
                    detected += 1
                total += new - old
                best[w] = new
            window_total[i] = total
            tp_count[i] = detected
        # A threshold equal to a score value includes every point with that score: evaluate at
        # the last index of each run of equal scores.
        last = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
        raws = fp_cum[last] + window_total[last]
        null_raw = -profile.fn_weight * len(best)
        k = int(np.argmax(raws))
        if raws[k] <= null_raw:
            return ProfileScore(
                profile.name,
                math.inf,
                null_raw,
                self._normalise(null_raw, profile),
                0,
                0,
                len(best),
            )
        i = int(last[k])
        raw = float(raws[k])
        return ProfileScore(
            profile.name,
            float(s_sorted[i]),
            raw,
            self._normalise(raw, profile),
            int(tp_count[i]),
            int(fp_count[i]),
            len(best) - int(tp_count[i]),
        )
