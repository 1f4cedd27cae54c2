"""Leave-one-NAB-category-out check of the default detector's false-alarm choices.

The default detector's range-break gate (`range_z`), seasonal veto (`season_veto`,
`veto_visits`) and range-break hold (`hold`) were
chosen on all 40 NAB files plus the normal-series suite. This script asks how much of the
NAB figure is in-sample luck: for each of NAB's 7 categories it picks, from the grid below,
the variant with the best standard-profile score at the fixed threshold on the *other six*
categories, among variants whose normal-suite rate (seed 0; it does not depend on NAB) is at
most `--normal-limit` false events per series-day, and scores the held-out category with it.
The held-out raw scores are summed and normalised over the whole corpus, which gives the
cross-validated figure reported beside the in-sample one.

    .venv/bin/python bench/detect_loco.py --data ../shared/data/nab [--normal-limit 0.2]
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from watchkeeper.detect.nab import (
    STANDARD_PROFILES,
    NabScorer,
    load_windows,
    read_corpus,
)
from watchkeeper.detect.normal_suite import run_suite
from watchkeeper.detect.robust_residual import RobustResidualConfig, RobustResidualDetector

GRID = {
    "range_z": (0.0, 4.0, 5.0, 6.0, 8.0),
    "season_veto": (0, 1, 2),
    "veto_visits": (1, 4),
    "hold": (0, 1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/nab"))
    parser.add_argument("--normal-limit", type=float, default=0.2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data / "data"
    windows = load_windows(args.data / "combined_windows.json")
    corpus = read_corpus(data_dir, sorted(n for n in windows if (data_dir / n).exists()))
    scorer = NabScorer.from_files(windows, corpus)
    categories = sorted({s.relative_path.split("/")[0] for s in corpus})
    base = RobustResidualConfig()
    variants = []
    for values in itertools.product(*GRID.values()):
        cfg = replace(base, **dict(zip(GRID, values, strict=True)))
        scores = {
            s.relative_path: RobustResidualDetector(cfg).update_many(s.seconds, s.values)
            for s in corpus
        }
        results = run_suite(lambda cfg=cfg: RobustResidualDetector(cfg), seed=0)
        rate = sum(r.false_events for r in results) / sum(r.days for r in results)
        variants.append((dict(zip(GRID, values, strict=True)), scores, rate))
    profiles = STANDARD_PROFILES[:2]
    report: dict[str, object] = {"categories": {}, "variants": []}
    for params, scores, rate in variants:
        row = {"params": params, "normal_per_series_day": rate}
        for profile in profiles:
            row[profile.name] = scorer.score(scores, profile, base.threshold).normalised
        report["variants"].append(row)  # type: ignore[union-attr]
        print(
            f"{params} normal {rate:.3f} "
            + " ".join(f"{p.name} {row[p.name]:.1f}" for p in profiles)
        )

    def raw(scores: dict[str, np.ndarray], files: list[str], profile_i: int) -> float:
        profile = profiles[profile_i]
        return sum(scorer.score_file(f, scores[f], profile, base.threshold).raw for f in files)

    eligible = [v for v in variants if v[2] <= args.normal_limit]
    for pi, profile in enumerate(profiles):
        held_total = 0.0
        for cat in categories:
            inside = [f for f in scorer.layouts if not f.startswith(cat + "/")]
            held = [f for f in scorer.layouts if f.startswith(cat + "/")]
            best = max(eligible, key=lambda v: raw(v[1], inside, pi))
            held_total += raw(best[1], held, pi)
            report["categories"].setdefault(cat, {})[profile.name] = best[0]  # type: ignore[union-attr]
            print(f"{profile.name}: held out {cat}: chose {best[0]}")
        cv = scorer._normalise(held_total, profile)
        report[f"{profile.name}_cross_validated"] = cv
        print(f"{profile.name}: leave-one-category-out {cv:.1f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
