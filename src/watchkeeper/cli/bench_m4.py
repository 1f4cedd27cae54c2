"""`watchkeeper bench m4`: forecast every series of an M4-layout folder and score it as M4.

The folder holds `train.csv` (and, to score, `test.csv`) with header `id,values`, values
space-separated and oldest first. Prints one row per forecaster (sMAPE, MASE, OWA relative to
Naive2; the coverage of the 80 % and 95 % intervals and M4's MSIS of the 95 % one; wall time), writes JSON, and writes `<out>/forecasts.csv` in the same layout.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from watchkeeper.detect.forecast import FORECASTERS, SeriesHistory
from watchkeeper.detect.forecast import m4 as scoring
from watchkeeper.detect.forecast.base import FloatArray, Forecast
from watchkeeper.detect.forecast.batch import forecast_many

M4_HOURLY_HORIZON = 48


def forecast_corpus(
    name: str,
    train: dict[str, FloatArray],
    horizon: int,
    season_lengths: tuple[int, ...],
    step_seconds: float,
    workers: int,
) -> tuple[dict[str, Forecast], float]:
    """Forecasts (point and intervals) per series id with one forecaster, and the wall time."""
    factory = functools.partial(FORECASTERS[name], season_lengths=season_lengths)
    histories = [SeriesHistory.from_values(v, start=0.0, step=step_seconds) for v in train.values()]
    started = time.perf_counter()
    forecasts = forecast_many(factory, histories, horizon, workers=workers)
    elapsed = time.perf_counter() - started
    return dict(zip(train, forecasts, strict=True)), elapsed


def interval_scores(
    test: dict[str, FloatArray],
    forecasts: dict[str, Forecast],
    train: dict[str, FloatArray],
    period: int,
) -> dict[str, float]:
    """Are the intervals honest? Coverage of the 80 % and 95 % intervals over every
    forecast point, and M4's MSIS of the 95 % interval averaged over the series."""
    keys = list(test)
    actual = np.concatenate([test[k] for k in keys])
    return {
        "coverage80": scoring.coverage(
            actual,
            np.concatenate([forecasts[k].lo80 for k in keys]),
            np.concatenate([forecasts[k].hi80 for k in keys]),
        ),
        "coverage95": scoring.coverage(
            actual,
            np.concatenate([forecasts[k].lo95 for k in keys]),
            np.concatenate([forecasts[k].hi95 for k in keys]),
        ),
        "msis95": float(
            np.mean(
                [
                    scoring.msis(test[k], forecasts[k].lo95, forecasts[k].hi95, train[k], period)
                    for k in keys
                ]
            )
        ),
    }


def run_m4(
    data: Path,
    models: list[str],
    out: Path | None,
    season_lengths: tuple[int, ...] = (24, 168),
    period: int = 24,
    workers: int = 2,
    step_seconds: float = 3600.0,
) -> dict[str, Any]:
    """Forecast and score each named model; returns the report that `m4` prints and saves."""
    train = scoring.read_series(data / "train.csv")
    test_path = data / "test.csv"
    test = scoring.read_series(test_path) if test_path.exists() else None
    horizon = len(next(iter(test.values()))) if test else M4_HOURLY_HORIZON
    report: dict[str, Any] = {
        "data": str(data),
        "series": len(train),
        "horizon": horizon,
        "period": period,
        "season_lengths": list(season_lengths),
        "workers": workers,
        "load_average_at_start": os.getloadavg()[0],
        "models": {},
    }
    for index, name in enumerate(models):
        full, elapsed = forecast_corpus(name, train, horizon, season_lengths, step_seconds, workers)
        forecasts = {key: f.mean for key, f in full.items()}
        result: dict[str, Any] = {"wall_seconds": elapsed}
        if test is not None:
            score = scoring.score(test, forecasts, train, period)
            result.update(smape=score.smape, mase=score.mase, owa=score.owa)
            result.update(interval_scores(test, full, train, period))
        report["models"][name] = result
        if out is not None:
            rows = [(key, forecasts[key]) for key in train]
            if len(models) > 1:
                (out / name).mkdir(parents=True, exist_ok=True)
                scoring.write_series(out / name / "forecasts.csv", rows)
            if index == 0:
                out.mkdir(parents=True, exist_ok=True)
                scoring.write_series(out / "forecasts.csv", rows)
    return report


def format_table(report: dict[str, Any]) -> str:
    """One line per forecaster."""
    lines = [
        f"M4 over {report['series']} series, horizon {report['horizon']}, "
        f"MASE period {report['period']}, {report['workers']} worker(s)",
        f"{'model':16} {'sMAPE':>8} {'MASE':>7} {'OWA':>7} {'cov80':>6} {'cov95':>6} "
        f"{'MSIS95':>7} {'wall s':>8}",
    ]
    for name, result in report["models"].items():
        if "owa" in result:
            scores = (
                f"{result['smape']:8.3f} {result['mase']:7.3f} {result['owa']:7.3f} "
                f"{result['coverage80']:6.3f} {result['coverage95']:6.3f} {result['msis95']:7.2f}"
            )
        else:
            scores = f"{'-':>8} {'-':>7} {'-':>7} {'-':>6} {'-':>6} {'-':>7}"
        lines.append(f"{name:16} {scores} {result['wall_seconds']:8.1f}")
    return "\n".join(lines)


def _parse_seasons(text: str) -> tuple[int, ...]:
    try:
        seasons = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"season lengths must be integers, got {text!r}") from exc
    if any(m < 1 for m in seasons):
        raise typer.BadParameter("season lengths must be positive")
    return seasons


def m4(
    data: Annotated[
        Path, typer.Option(help="folder with train.csv (and test.csv to score) in M4 layout")
    ] = Path("../shared/data/m4-hourly"),
    out: Annotated[Path | None, typer.Option(help="write <out>/forecasts.csv here")] = None,
    model: Annotated[
        str, typer.Option(help="comma-separated names from FORECASTERS, or all")
    ] = "default",
    json_out: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    seasons: Annotated[
        str, typer.Option(help="season lengths in steps given to the forecasters")
    ] = "24,168",
    period: Annotated[int, typer.Option(help="seasonal period of MASE and Naive2")] = 24,
    workers: Annotated[int, typer.Option(help="worker processes")] = 2,
    step_seconds: Annotated[
        float, typer.Option(help="sampling step, for models that use wall-clock time")
    ] = 3600.0,
) -> None:
    """Score forecasters on M4: sMAPE, MASE and OWA relative to Naive2, plus wall time."""
    names = list(FORECASTERS) if model == "all" else [m.strip() for m in model.split(",")]
    unknown = [n for n in names if n not in FORECASTERS]
    if unknown:
        raise typer.BadParameter(f"unknown forecaster(s) {unknown}; known: {sorted(FORECASTERS)}")
    if not (data / "train.csv").exists():
        raise typer.BadParameter(f"{data / 'train.csv'} does not exist")
    report = run_m4(data, names, out, _parse_seasons(seasons), period, workers, step_seconds)
    typer.echo(format_table(report))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2, default=float))


__all__ = ["format_table", "m4", "run_m4"]
