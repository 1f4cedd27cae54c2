"""`watchkeeper bench normal`: false events of a detector on generated healthy series.

The suite (`watchkeeper.detect.normal_suite`, documented in docs/design/detection.md) is
seeded, so a run is reproducible and another `--seed` gives series the constants never saw.
Prints one row per kind: series, series-days, false events and false events per series-day.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer

from watchkeeper.detect import DETECTORS
from watchkeeper.detect.normal_suite import SeriesResult, run_suite

MAX_PER_KIND = 200
MAX_DAYS = 120.0


def summarise(results: list[SeriesResult]) -> dict[str, Any]:
    """Per-kind and total counts; the figure is false events per series-day."""
    kinds: dict[str, dict[str, float]] = defaultdict(
        lambda: {"series": 0, "days": 0.0, "points": 0, "false_events": 0, "change_events": 0}
    )
    for r in results:
        row = kinds[r.kind]
        row["series"] += 1
        row["days"] += r.days
        row["points"] += r.points
        row["false_events"] += r.false_events
        row["change_events"] += r.change_events
    total = {key: sum(row[key] for row in kinds.values()) for key in next(iter(kinds.values()))}
    for row in [*kinds.values(), total]:
        row["per_series_day"] = row["false_events"] / row["days"] if row["days"] else 0.0
    return {"kinds": dict(kinds), "total": total}


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"{'kind':14} {'series':>6} {'days':>7} {'points':>9} {'false':>6} {'per day':>8} "
        f"{'at change':>9}"
    ]
    rows = [*summary["kinds"].items(), ("total", summary["total"])]
    for kind, row in rows:
        lines.append(
            f"{kind:14} {row['series']:6d} {row['days']:7.0f} {row['points']:9d} "
            f"{row['false_events']:6d} {row['per_series_day']:8.3f} {row['change_events']:9d}"
        )
    return "\n".join(lines)


def normal(
    detector: Annotated[str, typer.Option(help="a name from DETECTORS")] = "default",
    seed: Annotated[int, typer.Option(help="generator seed (another seed: unseen series)")] = 0,
    per_kind: Annotated[int, typer.Option(help="series per kind", min=1, max=MAX_PER_KIND)] = 12,
    days: Annotated[
        float, typer.Option(help="days per series (weekly: 35)", min=1.0, max=MAX_DAYS)
    ] = 10.0,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
) -> None:
    """Count false anomaly events per series-day on generated normal series, warm-up included."""
    if detector not in DETECTORS:
        raise typer.BadParameter(f"unknown detector {detector!r}; known: {sorted(DETECTORS)}")
    start = time.perf_counter()
    results = run_suite(DETECTORS[detector], seed=seed, per_kind=per_kind, days=days)
    summary = summarise(results)
    summary["detector"] = detector
    summary["seed"] = seed
    summary["seconds"] = time.perf_counter() - start
    typer.echo(format_table(summary))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(summary, indent=2))
