"""`watchkeeper demo [--remove]`: a tenant `demo` with synthetic data, to try every page."""

from __future__ import annotations

from typing import Annotated

import typer

from watchkeeper.cli.common import CliError, ConfigOption, open_db, settings_from


def demo(
    remove: Annotated[
        bool, typer.Option("--remove", help="delete the demo tenant and all it owns")
    ] = False,
    hours: Annotated[float, typer.Option(min=1, max=48, help="hours of history to write")] = 6,
    config: ConfigOption = None,
) -> None:
    """Load a realistic synthetic workload into its own tenant `demo` (log in to it with
    any super-admin): services with daily patterns, an unfolding incident, an anomaly, a
    disk forecast to fill. Run it while the server is stopped (the metric store is one
    process's); `--remove` works either way."""
    from watchkeeper.demo.loader import load_demo, remove_demo

    if remove:
        with open_db(config) as db:
            removed = remove_demo(db.sessions)
        typer.echo("demo tenant removed" if removed else "no demo tenant to remove")
        return
    from watchkeeper.clock import SystemClock
    from watchkeeper.wiring import build_context

    settings, config_file = settings_from(config)
    clock = SystemClock()
    try:
        context = build_context(settings, clock=clock, config_file=config_file)
    except RuntimeError as exc:
        raise CliError(
            f"{exc}: stop the server, run `watchkeeper demo`, then start it again"
        ) from None
    try:
        report = load_demo(context, now=clock.time(), hours=hours)
    finally:
        context.store.close()
        context.sessions.engine.dispose()
    typer.echo(
        f"demo loaded into tenant `demo`: {report.series} series, {report.samples} samples, "
        f"{report.incidents} incident(s), {report.anomalies} anomaly(ies); firing: "
        + (", ".join(report.alerts_firing) or "none")
    )
