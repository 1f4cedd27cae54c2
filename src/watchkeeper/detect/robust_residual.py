"""The default detector: robust residuals of competing predictors, then anomaly likelihood.

Why this shape (numbers in docs/design/detection.md):

- Several cheap online predictors compete: a slow and a fast EWMA (level, spikes, steps),
  a daily and a weekly seasonal profile (per 5-minute slot of the day / week). Each residual
  is divided by that predictor's own robust scale (an EW mean absolute deviation with
  winsorised updates), and the point's surprise is the *smallest* of those z values: a point
  is anomalous only if no model of normal behaviour explains it. A daily peak is explained
  by the seasonal profile, a slow ramp by the EWMAs, a spike by none.
- Two structural signals join the surprise: a flat line (a run of identical values far
  longer than any seen before) and a break of the learned range (Numenta's "spatial anomaly").
- Surprises are mapped to a raw score in [0, 1], averaged over a short window, and turned into
  Numenta's anomaly likelihood: the tail probability of the recent average under a normal fit
  of the longer history of averages, reported on a log scale. This makes one threshold mean
  the same on a noisy and on a quiet series, and rewards persistent surprise (level shifts,
  seasonality breaks) as much as single spikes.
- After an event the score is damped for a while, so one incident raises one event.
- Healthy series must not page (measured by `watchkeeper bench normal`): a range break counts
  only when the long level is surprised too (a narrow early range, a trend, a noise record
  are not incidents); a point the daily or weekly profile explains (from a slot's first
  revisit) surprises nothing; a range break while damped keeps damping (a new level pages
  once); and a jump far above any recent one scores 1, so a spike inside the range is seen.

Everything runs in one numba-compiled loop over points; `update` and `update_many` share it,
so streaming and batch scores are identical and state is a handful of float arrays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numba
import numpy as np

from watchkeeper.detect.base import Detector, FloatArray

SLOT_SECONDS = 300.0
DAY_SLOTS = 288
WEEK_SLOTS = 7 * 288


@dataclass(frozen=True, slots=True)
class RobustResidualConfig:
    """Tuning knobs; the defaults are what the NAB corpus and the design note justify."""

    alpha_slow: float = 0.01  # ~100-point memory for the level
    alpha_fast: float = 0.5  # follows the last value closely
    alpha_season: float = 0.25  # per visit of a seasonal slot
    alpha_scale: float = 0.0005  # ~2000-point memory of each predictor's typical error
    winsor: float = 4.0  # an error counts at most this many scales when learning the scale
    warmup: int = 30  # points before any score is given
    z_low: float = 3.0  # surprise below this is normal
    z_high: float = 8.0  # surprise at or above this is as surprising as it gets
    short_window: int = 30  # points averaged before the likelihood (Numenta uses 10)
    history: int = 3000  # points of averaged raw scores the likelihood compares with
    min_std: float = 0.02  # floor of the history's standard deviation
    range_tolerance: float = 0.02  # range break: beyond the learned range by this fraction
    flat_factor: float = 3.0  # a flat run this many times longer than any before is anomalous
    flat_min: int = 20
    suppress: int = 100  # points damped after an event
    threshold: float = 0.5
    alpha_long: float = 0.001  # ~1000-point memory: the long-run operating level
    range_lag: int = 300  # the newest points do not extend the learned range yet
    signal_mask: int = 31  # bit k enables SIGNALS[k]
    season_visits: int = 4  # days (weeks) a slot must have been seen before its profile judges
    range_z: float = 5.0  # a range break counts only if the gated predictors' z reach this
    range_gate: int = 16  # bit k: SIGNALS[k] must be surprised (z >= range_z); 16 = long level
    season_veto: int = 1  # a point a warm seasonal profile explains (z < z_low) does not
    # surprise the level signals (2) / every signal (1) / nothing (0)
    hold: int = 1  # 1: a range break while damped extends the damping (a new level = one event)
    sqrt_avg: int = 0  # 1: the likelihood fits sqrt(average), less skewed than the average
    jump_factor: float = 3.0  # a jump this many times the largest seen is anomalous (0: off)
    jump_decay: float = 0.9999  # per point: the largest jump seen fades (~10,000 points)
    tail_gap: float = 0.0  # a range break must pass the range by this x (max - 99th pct.)
    q_rate: float = 0.02  # step of the online 1st/99th percentile estimates, in level scales
    veto_visits: int = 1  # visits of a slot before it may veto (below season_visits: early veto)

    def as_array(self) -> FloatArray:
        return np.array([float(v) for v in asdict(self).values()], dtype=np.float64)


# Indices into the scalar state vector.
(
    N,
    LAST_X,
    M_SLOW,
    M_FAST,
    M_LONG,
    X_MIN,
    X_MAX,
    RUN,
    MAX_RUN,
    CHANGES,
    H_POS,
    H_COUNT,
    S_POS,
    LAG_POS,
    SUPPRESS,
    JUMP_MAX,
    Q_HI,
    Q_LO,
) = range(18)
STATE_SIZE = 18
SIGNALS = ("level", "spike", "daily", "weekly", "long_level")
"""The surprise signals, each with its own robust scale and its own likelihood."""
K = len(SIGNALS)


@numba.njit(cache=True, inline="always")
def _learn_scale(d: float, r: float, winsor: float, alpha: float, n: float, warmup: float) -> float:
    """One EW step of a mean absolute error; n counts this predictor's updates (from 1)."""
    a = max(alpha, 1.0 / n)
    err = abs(r)
    if n > warmup and d > 0.0:
        err = min(err, winsor * d)
    return d + a * (err - d)


@numba.njit(cache=True)
def _seasonal(
    mean: FloatArray, seen: FloatArray, slot: int, period_no: float, xi: float, alpha: float
) -> None:
    if seen[2 * slot + 1] == 0.0:
        mean[slot] = xi
    else:
        mean[slot] += alpha * (xi - mean[slot])
    if seen[2 * slot] != period_no + 1.0:
        seen[2 * slot] = period_no + 1.0
        seen[2 * slot + 1] += 1.0


@numba.njit(cache=True)
def _run(
    t: FloatArray,
    x: FloatArray,
    p: FloatArray,
    s: FloatArray,
    scale: FloatArray,
    scale_n: FloatArray,
    day_mean: FloatArray,
    day_seen: FloatArray,
    week_mean: FloatArray,
    week_seen: FloatArray,
    acc: FloatArray,
    hist: FloatArray,
    short: FloatArray,
    lag: FloatArray,
    out: FloatArray,
    raw_out: FloatArray,
) -> None:
    alpha_slow, alpha_fast, alpha_season, alpha_scale = p[0], p[1], p[2], p[3]
    winsor, warmup, z_low, z_high = p[4], p[5], p[6], p[7]
    short_w, hist_w, min_std, range_tol = int(p[8]), int(p[9]), p[10], p[11]
    flat_factor, flat_min, suppress, threshold = p[12], p[13], p[14], p[15]
    alpha_long, lag_w, mask, visits = p[16], int(p[17]), int(p[18]), p[19]
    range_z, range_gate, veto, hold = p[20], int(p[21]), int(p[22]), p[23] > 0.0
    sqrt_avg = p[24] > 0.0
    jump_factor, jump_decay, tail_gap, q_rate, veto_visits = p[25], p[26], p[27], p[28], p[29]
    log_floor = math.log(1e-10)
    r = np.zeros(K)
    ok = np.zeros(K)
    zs = np.zeros(K)
    for i in range(len(x)):
        xi = x[i]
        if math.isnan(xi):
            out[i] = 0.0
            raw_out[i] = 0.0
            continue
        n = s[N] + 1.0
        s[N] = n
        if n == 1.0:
            s[LAST_X] = xi
            s[M_SLOW] = xi
            s[M_FAST] = xi
            s[M_LONG] = xi
            s[X_MIN] = xi
            s[X_MAX] = xi
        day_slot = int((t[i] % 86400.0) // SLOT_SECONDS) % DAY_SLOTS
        week_slot = int((t[i] % 604800.0) // SLOT_SECONDS) % WEEK_SLOTS
        span = s[X_MAX] - s[X_MIN]
        floor = max(1e-3 * span, 1e-9 * abs(xi), 1e-12)

        # Residual of each predictor, and whether it is warm enough to judge.
        r[0] = xi - s[M_SLOW]
        r[1] = xi - s[M_FAST]
        r[2] = xi - day_mean[day_slot]
        r[3] = xi - week_mean[week_slot]
        r[4] = xi - s[M_LONG]
        ok[0] = 1.0
        ok[1] = 1.0
        ok[2] = 1.0 if day_seen[2 * day_slot + 1] >= visits else 0.0
        ok[3] = 1.0 if week_seen[2 * week_slot + 1] >= visits else 0.0
        ok[4] = 1.0

        z_gate = math.inf
        explained = False
        for k in range(K):
            zs[k] = abs(r[k]) / max(scale[k], floor) if scale_n[k] > warmup else 0.0
            if ok[k] > 0.0 and scale_n[k] > warmup and (range_gate >> k) & 1:
                z_gate = min(z_gate, zs[k])
        if veto > 0:
            # A seasonal profile explains the point when it is warm, or (veto_visits < visits)
            # when the same slot seen on earlier days / weeks was this close, judged on the
            # level's own scale until the profile has a scale of its own.
            for k, seen, slot in ((2, day_seen, day_slot), (3, week_seen, week_slot)):
                if seen[2 * slot + 1] >= min(veto_visits, visits) and scale_n[0] > warmup:
                    zk = zs[k] if ok[k] > 0.0 and scale_n[k] > warmup else 0.0
                    if zk == 0.0:
                        zk = abs(r[k]) / max(scale[0], floor)
                    explained = explained or zk < z_low

        # Structural signals: a flat run far longer than any before; a break of the range
        # learned from all but the most recent points.
        structural = False
        if xi == s[LAST_X]:
            s[RUN] += 1.0
        else:
            s[MAX_RUN] = max(s[MAX_RUN], s[RUN])
            s[RUN] = 0.0
            s[CHANGES] += 1.0
        if s[CHANGES] > 50.0 and s[RUN] > max(flat_min, flat_factor * s[MAX_RUN]):
            structural = True
        if (
            n > warmup + lag_w
            and span > 0.0
            and (
                xi > s[X_MAX] + max(range_tol * span, tail_gap * (s[X_MAX] - s[Q_HI]))
                or xi < s[X_MIN] - max(range_tol * span, tail_gap * (s[Q_LO] - s[X_MIN]))
            )
            and z_gate >= range_z
        ):
            structural = True
        # A jump: the point surprises the fast predictor far more than any point for a while
        # (records of this z are rare on any noise, a spike inside the range is not).
        if scale_n[1] > warmup:
            jump = zs[1]
            if (
                jump_factor > 0.0
                and n > warmup + lag_w
                and jump >= jump_factor * s[JUMP_MAX]
                and not (explained and veto == 1)
            ):
                structural = True
            else:
                s[JUMP_MAX] = max(s[JUMP_MAX] * jump_decay, jump)

        # Per signal: raw surprise -> short average -> likelihood against its own history.
        sp = int(s[S_POS])
        hp = int(s[H_POS])
        count = s[H_COUNT]
        score = 0.0
        raw_max = 0.0
        for k in range(K):
            raw = 0.0
            if (
                ok[k] > 0.0
                and scale_n[k] > warmup
                and (mask >> k) & 1
                and not (explained and (veto == 1 or k == 0 or k == 4))
            ):
                raw = min(1.0, max(0.0, (zs[k] - z_low) / (z_high - z_low)))
            raw_max = max(raw_max, raw)
            acc[k, 0] += raw - short[k, sp]
            short[k, sp] = raw
            avg = acc[k, 0] / min(n, short_w)
            if sqrt_avg:
                avg = math.sqrt(max(avg, 0.0))
            if n > warmup and count >= 1.0:
                mean = acc[k, 1] / count
                var = max(acc[k, 2] / count - mean * mean, 0.0)
                std = max(math.sqrt(var), min_std)
                tail = 0.5 * math.erfc((avg - mean) / (std * math.sqrt(2.0)))
                score = max(score, min(1.0, math.log(max(tail, 1e-10) + 1e-10) / log_floor))
            if count >= hist_w:
                old = hist[k, hp]
                acc[k, 1] -= old
                acc[k, 2] -= old * old
            hist[k, hp] = avg
            acc[k, 1] += avg
            acc[k, 2] += avg * avg
        s[S_POS] = (sp + 1) % short_w
        s[H_POS] = (hp + 1) % hist_w
        if count < hist_w:
            s[H_COUNT] = count + 1.0
        if structural and n > warmup:
            score = 1.0

        if s[SUPPRESS] > 0.0:
            s[SUPPRESS] -= 1.0
            if hold and structural:
                s[SUPPRESS] = suppress
            score *= 0.5 * threshold
        elif score >= threshold:
            s[SUPPRESS] = suppress
        out[i] = score
        raw_out[i] = raw_max

        # Learn.
        for k in range(K):
            if ok[k] > 0.0:
                scale_n[k] += 1.0
                scale[k] = _learn_scale(scale[k], r[k], winsor, alpha_scale, scale_n[k], warmup)
        if n == 1.0:
            s[Q_HI] = xi
            s[Q_LO] = xi
        else:
            eta = q_rate * max(scale[0], floor)
            s[Q_HI] += eta * ((1.0 if xi > s[Q_HI] else 0.0) - 0.01) * 10.0
            s[Q_LO] -= eta * ((1.0 if xi < s[Q_LO] else 0.0) - 0.01) * 10.0
        s[M_SLOW] += max(alpha_slow, 1.0 / n) * r[0]
        s[M_FAST] += alpha_fast * r[1]
        s[M_LONG] += max(alpha_long, 1.0 / n) * r[4]
        _seasonal(day_mean, day_seen, day_slot, math.floor(t[i] / 86400.0), xi, alpha_season)
        _seasonal(week_mean, week_seen, week_slot, math.floor(t[i] / 604800.0), xi, alpha_season)
        lp = int(s[LAG_POS])
        if n > lag_w:
            s[X_MIN] = min(s[X_MIN], lag[lp])
            s[X_MAX] = max(s[X_MAX], lag[lp])
        lag[lp] = xi
        s[LAG_POS] = (lp + 1) % lag_w
        s[LAST_X] = xi


class RobustResidualDetector(Detector):
    """Default detector for operational metrics (see the module docstring for the why).

    Example::

        det = RobustResidualDetector()
        scores = det.update_many(seconds, values)   # or det.update(t, x) per point
        anomalies = scores >= det.threshold
    """

    name: ClassVar[str] = "default"
    state_version: ClassVar[int] = 2

    def __init__(self, config: RobustResidualConfig | None = None) -> None:
        self.config = config or RobustResidualConfig()
        self.threshold = self.config.threshold
        self._p = self.config.as_array()
        self._s = np.zeros(STATE_SIZE)
        self._scale = np.zeros(K)
        self._scale_n = np.zeros(K)
        self._acc = np.zeros((K, 3))
        self._lag = np.zeros(self.config.range_lag)
        self._day_mean = np.zeros(DAY_SLOTS)
        self._day_seen = np.zeros(2 * DAY_SLOTS)
        self._week_mean = np.zeros(WEEK_SLOTS)
        self._week_seen = np.zeros(2 * WEEK_SLOTS)
        self._hist = np.zeros((K, self.config.history))
        self._short = np.zeros((K, self.config.short_window))
        self.last_raw: FloatArray = np.zeros(0)
        """Raw (pre-likelihood) scores of the last batch, for explanations and diagnostics."""

    def update_many(self, t: FloatArray, x: FloatArray) -> FloatArray:
        t = np.ascontiguousarray(t, dtype=np.float64)
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty(len(x))
        raw = np.empty(len(x))
        _run(
            t,
            x,
            self._p,
            self._s,
            self._scale,
            self._scale_n,
            self._day_mean,
            self._day_seen,
            self._week_mean,
            self._week_seen,
            self._acc,
            self._hist,
            self._short,
            self._lag,
            out,
            raw,
        )
        self.last_raw = raw
        return out

    def get_state(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "arrays": {k: v.copy() for k, v in self._arrays().items()},
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.__init__(RobustResidualConfig(**state["config"]))  # type: ignore[misc]
        for key, arr in self._arrays().items():
            arr[:] = state["arrays"][key]

    def _arrays(self) -> dict[str, FloatArray]:
        return {
            "scalars": self._s,
            "scale": self._scale,
            "scale_n": self._scale_n,
            "acc": self._acc,
            "lag": self._lag,
            "day_mean": self._day_mean,
            "day_seen": self._day_seen,
            "week_mean": self._week_mean,
            "week_seen": self._week_seen,
            "hist": self._hist,
            "short": self._short,
        }
