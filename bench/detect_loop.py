"""Detection loop throughput: points/s of `DetectionLoop.run_pass` over an embedded store.

Generated host-like data (no data files needed): `--series` gauges and counters with
job="watchkeeper", `--hours` of history at a 30 s scrape, in an EmbeddedStore and a SQLite
metadata database in a temporary folder. Measured in one run:

- `anchor`: the default detector alone, `update_many` over the same points, series by series
  (the library's speed with no store, no write-back, no database);
- `warmup pass`: the loop's first pass, which reads the whole history and scores it;
- `steady pass`: later passes, each with one new scrape (one point per series), as in
  production at interval_seconds = 30.

    .venv/bin/python bench/detect_loop.py [--series 200 --hours 6 --passes 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine

from watchkeeper.clock import ManualClock
from watchkeeper.config import DetectionSettings
from watchkeeper.db import migrate
from watchkeeper.detect import DETECTORS
from watchkeeper.detect.persistence import ModelStore
from watchkeeper.detect.runner import DetectionLoop
from watchkeeper.detect.series_input import detector_input
from watchkeeper.detect.training import Trainer
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.store.embedded import EmbeddedStore
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import create_tenant

RESULTS = Path(__file__).parent / "results"
SCRAPE_S = 30
T0 = 1_767_225_600  # 2026-01-01


def series_labels(n: int) -> list[tuple[tuple[str, str], ...]]:
    out = []
    for i in range(n):
        name = "node_cpu_seconds_total" if i % 2 else "node_memory_MemAvailable_bytes"
        out.append(labels_from_dict({"__name__": name, "job": "watchkeeper", "cpu": str(i)}))
    return out


def values_for(labels: tuple[tuple[str, str], ...], k0: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(abs(hash(labels)) % 2**32 + k0)
    k = np.arange(k0, k0 + count)
    level = 50 + 10 * np.sin(2 * np.pi * k * SCRAPE_S / 86_400) + rng.normal(0, 1, count)
    if dict(labels)["__name__"].endswith("_total"):
        return np.asarray(k * 0.5 * SCRAPE_S + rng.uniform(0, 1, count), dtype=np.float64)
    return np.asarray(level, dtype=np.float64)


def batch(labels: list[tuple[tuple[str, str], ...]], k0: int, count: int) -> list[SeriesSamples]:
    ts = ((T0 + SCRAPE_S * np.arange(k0, k0 + count)) * 1000).astype(np.int64)
    return [SeriesSamples(lab, ts, values_for(lab, k0, count)) for lab in labels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--json", type=Path, default=RESULTS / "detect_loop.json")
    args = parser.parse_args()
    n_points = int(args.hours * 3600 / SCRAPE_S)
    labels = series_labels(args.series)
    history = batch(labels, 0, n_points)

    warm_up = detector_input(history[0])  # compile (or load) the numba kernel before timing
    DETECTORS["default"]().update_many(warm_up.seconds[:50], warm_up.values[:50])
    started = time.perf_counter()
    anchor_points = 0
    for samples in history:
        points = detector_input(samples)
        DETECTORS["default"]().update_many(points.seconds, points.values)
        anchor_points += len(points)
    anchor_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engine = create_engine(f"sqlite:///{root / 'meta.db'}")
        migrate.upgrade(engine)
        sessions = SessionFactory(engine)
        clock = ManualClock(start=T0 + SCRAPE_S * n_points)
        with sessions.system("bench") as db:
            tenant = create_tenant(db, name="bench", now=clock.now()).id
        store = EmbeddedStore(root / "metrics", fsync="never")
        store.append(tenant, history)
        models = ModelStore(root / "models", clock)
        loop = DetectionLoop(
            store=store,
            sessions=sessions,
            models=models,
            trainer=Trainer(store, sessions, models, clock, 168.0),
            clock=clock,
            settings=DetectionSettings(
                warmup_hours=args.hours + 1, checkpoint_interval_seconds=1e9
            ),
            retrain_interval_hours=24.0,
        )
        warm = loop.run_pass()
        steady = []
        for p in range(args.passes):
            store.append(tenant, batch(labels, n_points + p, 1))
            clock.advance(SCRAPE_S)
            steady.append(loop.run_pass())
        started = time.perf_counter()
        saved = loop.checkpoint()
        checkpoint_s = time.perf_counter() - started
        store.close()
        engine.dispose()

    steady_points = sum(s.points for s in steady)
    steady_s = sum(s.seconds for s in steady)
    rows = {
        "anchor (detector alone)": (anchor_points, anchor_s),
        "warmup pass": (warm.points, warm.seconds),
        "steady passes": (steady_points, steady_s),
    }
    anchor_pps = anchor_points / anchor_s
    print(f"{args.series} series, {n_points} points each of history, {args.passes} steady passes")
    print(f"{'run':<26}{'points':>10}{'seconds':>10}{'points/s':>12}{'vs anchor':>11}")
    result: dict[str, object] = {"series": args.series, "history_points": n_points}
    for name, (points, seconds) in rows.items():
        pps = points / seconds if seconds else 0.0
        print(f"{name:<26}{points:>10}{seconds:>10.3f}{pps:>12,.0f}{pps / anchor_pps:>11.3f}")
        result[name] = {"points": points, "seconds": seconds, "points_per_second": pps}
    per_pass_ms = 1000 * steady_s / max(len(steady), 1)
    print(
        f"steady pass: {per_pass_ms:.1f} ms for {args.series} series; checkpoint of {saved} "
        f"models: {checkpoint_s:.2f} s"
    )
    result["steady_pass_ms"] = per_pass_ms
    result["checkpoint"] = {"models": saved, "seconds": checkpoint_s}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
