"""`watchkeeper bench ...`: the quality benchmarks, runnable on any folder of the same layout."""

from __future__ import annotations

import typer

from watchkeeper.cli.bench_nab import nab

bench_app = typer.Typer(
    help="Score detectors and forecasters on public benchmarks.", no_args_is_help=True
)
bench_app.command("nab", help="Numenta Anomaly Benchmark scoring of the detectors.")(nab)
