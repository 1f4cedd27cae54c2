"""`watchkeeper bench ...`: the quality benchmarks, runnable on any folder of the same layout."""

from __future__ import annotations

import typer

from watchkeeper.cli.bench_m4 import m4
from watchkeeper.cli.bench_nab import nab
from watchkeeper.cli.bench_normal import normal

bench_app = typer.Typer(
    help="Score detectors and forecasters on public benchmarks.", no_args_is_help=True
)
bench_app.command("nab", help="Numenta Anomaly Benchmark scoring of the detectors.")(nab)
bench_app.command("m4", help="M4 hourly forecasting benchmark (sMAPE, MASE, OWA vs Naive2).")(m4)
bench_app.command("normal", help="False anomaly events per series-day on healthy series.")(normal)
