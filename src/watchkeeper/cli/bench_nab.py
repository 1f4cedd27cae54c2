"""`watchkeeper bench nab`: run detectors over a NAB-layout corpus and score them as NAB v1.1.

Prints one row per detector and profile (score at the detector's own threshold and at the
corpus-optimised threshold, as NAB's scoreboard), writes JSON, and writes per-file results in
NAB's layout: `<out>/<detector>/<category>/<detector>_<file>.csv` with
`timestamp,value,anomaly_score,is_anomaly`.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from watchkeeper.detect import DETECTORS
from watchkeeper.detect.nab import (
    STANDARD_PROFILES,
    CostProfile,
    NabScorer,
    NabSeries,
    load_profiles,
    load_windows,
    read_corpus,
)


def _first_existing(*paths: Path) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def _write_results(
    out: Path, name: str, series: NabSeries, scores: np.ndarray[Any, Any], threshold: float
) -> None:
    category, file_name = series.relative_path.split("/", 1)
    target = out / name / category / f"{name}_{file_name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "value", "anomaly_score", "is_anomaly"])
        stamps = np.datetime_as_string(series.timestamps, unit="s")
        for ts, v, s in zip(stamps, series.values, scores, strict=True):
            writer.writerow(
                [str(ts).replace("T", " "), repr(float(v)), f"{s:.6f}", int(s >= threshold)]
            )


def run_nab(
    data: Path,
    labels: Path | None,
    detectors: list[str],
    out: Path | None,
    profiles: tuple[CostProfile, ...] = STANDARD_PROFILES,
) -> dict[str, Any]:
    """Run and score each named detector; returns the report that `nab` prints and saves."""
    data_dir = data / "data" if (data / "data").is_dir() else data
    labels = labels or _first_existing(
        data / "combined_windows.json", data / "labels" / "combined_windows.json"
    )
    if labels is None:
        raise typer.BadParameter("no combined_windows.json found; pass --labels")
    windows = load_windows(labels)
    corpus = read_corpus(data_dir, sorted(n for n in windows if (data_dir / n).exists()))
    scorer = NabScorer.from_files(windows, corpus)
    report: dict[str, Any] = {
        "files": len(corpus),
        "windows": scorer.windows_total,
        "points": int(sum(len(s.values) for s in corpus)),
        "detectors": {},
    }
    for name in detectors:
        scores: dict[str, np.ndarray[Any, Any]] = {}
        elapsed = 0.0
        threshold = 0.5
        for series in corpus:
            detector = DETECTORS[name]()
            threshold = detector.threshold
            start = time.perf_counter()
            scores[series.relative_path] = detector.update_many(series.seconds, series.values)
            elapsed += time.perf_counter() - start
            if out is not None:
                _write_results(out, name, series, scores[series.relative_path], threshold)
        result: dict[str, Any] = {
            "threshold": threshold,
            "seconds": elapsed,
            "points_per_second": report["points"] / elapsed if elapsed > 0 else 0.0,
            "profiles": {},
        }
        for profile in profiles:
            result["profiles"][profile.name] = {
                "fixed": asdict(scorer.score(scores, profile, threshold)),
                "optimised": asdict(scorer.optimise(scores, profile)),
            }
        report["detectors"][name] = result
    return report


def format_table(report: dict[str, Any]) -> str:
    """One line per detector and profile."""
    lines = [
        f"NAB over {report['files']} files, {report['windows']} windows, {report['points']} points",
        f"{'detector':18} {'profile':20} {'fixed':>7} {'optimised':>9} {'opt.thr':>8} "
        f"{'TP':>4} {'FP':>5} {'FN':>4} {'points/s':>10}",
    ]
    for name, result in report["detectors"].items():
        for profile, scores in result["profiles"].items():
            opt = scores["optimised"]
            lines.append(
                f"{name:18} {profile:20} {scores['fixed']['normalised']:7.1f} "
                f"{opt['normalised']:9.1f} {opt['threshold']:8.3f} {opt['tp']:4d} "
                f"{opt['fp']:5d} {opt['fn']:4d} {result['points_per_second']:10.0f}"
            )
    return "\n".join(lines)


def nab(
    data: Annotated[
        Path,
        typer.Option(
            help="NAB root (with data/ and combined_windows.json) "
            "or a folder of <category>/<file>.csv"
        ),
    ] = Path("../shared/data/nab"),
    labels: Annotated[Path | None, typer.Option(help="combined_windows.json")] = None,
    out: Annotated[Path | None, typer.Option(help="write per-file result CSVs here")] = None,
    detector: Annotated[
        str, typer.Option(help="comma-separated names from DETECTORS, or all")
    ] = "default",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    profiles: Annotated[Path | None, typer.Option(help="NAB profiles.json")] = None,
) -> None:
    """Score detectors on NAB: all three profiles, fixed and optimised thresholds, points/s."""
    names = list(DETECTORS) if detector == "all" else [d.strip() for d in detector.split(",")]
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise typer.BadParameter(f"unknown detector(s) {unknown}; known: {sorted(DETECTORS)}")
    profiles_path = profiles or _first_existing(
        data / "profiles.json", data / "config" / "profiles.json"
    )
    cost_profiles = load_profiles(profiles_path) if profiles_path else STANDARD_PROFILES
    report = run_nab(data, labels, names, out, cost_profiles)
    typer.echo(format_table(report))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, default=float))
