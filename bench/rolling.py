"""Rolling-restart benchmark (issue 11): what a client and a webhook receiver see while two
replicas are restarted in turn.

Same harness as tests/test_rolling_restart.py (tests/rolling.py): two `watchkeeper serve`
processes on one PostgreSQL schema and one VictoriaMetrics, a client pushing 50-sample
batches every 20 ms round-robin and retrying errors on the next replica, an alert that fires
before the roll and resolves during it, a webhook receiver counting deliveries. Each replica:
SIGTERM to the main process, wait for the exit, start, wait for /health/ready 200.

Three runs:
  round-robin       the client sends to both replicas whatever their health (the test's case)
  load balancer     the client skips a replica whose last /health/ready (every 0.5 s) failed
  load balancer, drain 0   the anchor: the same, with `server.drain_seconds: 0` (the process
                    stops listening at SIGTERM, as before the drain existed)
Figures per run: samples acknowledged / lost, deliveries of the firing and resolved
notifications (1 each expected), client errors retried (by kind) and given up, and the time
each replica took from SIGTERM to exit and from start to ready.

    PYTHONPATH=src .venv/bin/python bench/rolling.py [--database-url URL] [--runs all|rr]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.rolling import Result, make_replicas, roll, stop_all  # noqa: E402
from tests.support import POSTGRES_DSN  # noqa: E402
from watchkeeper.store.remote.victoria import LocalVictoriaMetrics  # noqa: E402

RUNS = {
    "round-robin": {"health_checked": False, "drain": 1.0},
    "load balancer": {"health_checked": True, "drain": 1.0},
    "load balancer, drain 0 (anchor)": {"health_checked": True, "drain": 0.0},
}


def one_run(dsn: str, vm: LocalVictoriaMetrics, *, health_checked: bool, drain: float) -> Result:
    schema = f"wk_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(dsn)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{dsn}?options=-csearch_path%3D{schema}&application_name={schema}"
    try:
        with tempfile.TemporaryDirectory(prefix="wk-rolling-") as folder:
            servers = make_replicas(Path(folder), url, vm.url, drain_seconds=drain)
            try:
                return roll(servers, vm.flush, health_checked=health_checked)
            finally:
                stop_all(servers)
    finally:
        with admin.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": schema},
            )
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=POSTGRES_DSN)
    parser.add_argument("--runs", choices=["all", "rr"], default="all")
    args = parser.parse_args()
    runs = RUNS if args.runs == "all" else {"round-robin": RUNS["round-robin"]}
    print(
        "| run | acked samples | lost | dup. samples | firing / resolved deliveries "
        "| errors retried | given up | drain a / b (s) | restart a / b (s) | total (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, options in runs.items():
        with LocalVictoriaMetrics() as vm:  # a fresh store per run
            r = one_run(
                args.database_url,
                vm,
                health_checked=bool(options["health_checked"]),
                drain=float(options["drain"]),
            )
        retried = ", ".join(f"{k} {v}" for k, v in sorted(r.retried.items())) or "0"
        print(
            f"| {name} | {r.acknowledged} | {r.lost} | {r.duplicated_samples} "
            f"| {r.firing_deliveries} / {r.resolved_deliveries} | {retried} | {len(r.given_up)} "
            f"| {r.drain_seconds['a']:.2f} / {r.drain_seconds['b']:.2f} "
            f"| {r.restart_seconds['a']:.1f} / {r.restart_seconds['b']:.1f} "
            f"| {r.total_seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
