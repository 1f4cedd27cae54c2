"""Query benchmark: the same PromQL range queries on Watchkeeper's engine and VictoriaMetrics.

One generated data set, loaded into every target:
- (a) `single`: one gauge, 1 day at a 15 s scrape; query the series over that day at 15 s step
  (5,761 points);
- (b) `sum_rate`: `sum by (job) (rate(bench_requests_total[5m]))` over 10,000 counters
  (10 jobs, 2 h at 15 s), 100 steps of 60 s;
- (c) `histogram`: `histogram_quantile(0.9, sum by (job, le) (rate(bench_latency_seconds_bucket[5m])))`
  over 1,000 bucket series (100 histograms x 10 buckets), 100 steps of 60 s.
Targets: `victoria` (a VictoriaMetrics started here, loaded through /api/v1/import, the
anchor: HTTP round trip included, its result cache off), `memory` (Engine over MemoryStore)
and `embedded` (Engine over EmbeddedStore), both in process, timed from the query string to
the JSON text of the `data` object (no HTTP). p50/p99 over --repeat runs after a warm-up.

    .venv/bin/python bench/query.py [--series 10000 --repeat 15]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import psutil

from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query import Engine
from watchkeeper.store.base import MetricStore
from watchkeeper.store.embedded import EmbeddedStore
from watchkeeper.store.memory import MemoryStore
from watchkeeper.store.remote.victoria import LocalVictoriaMetrics

RESULTS = Path(__file__).parent / "results"
T0_MS = 1_767_225_600_000  # 2026-01-01
SCRAPE_MS = 15_000
TENANT = "bench"
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]


def dataset(n_series: int, n_histograms: int) -> list[SeriesSamples]:
    rng = np.random.default_rng(42)
    out: list[SeriesSamples] = []
    day = T0_MS + SCRAPE_MS * np.arange(86_400_000 // SCRAPE_MS + 21, dtype=np.int64)
    gauge = np.cumsum(rng.normal(0, 1, len(day))).round(3)
    out.append(
        SeriesSamples(labels_from_dict({"__name__": "bench_gauge", "host": "h1"}), day, gauge)
    )
    two_hours = T0_MS + SCRAPE_MS * np.arange(7_200_000 // SCRAPE_MS, dtype=np.int64)
    for i in range(n_series):
        labels = {
            "__name__": "bench_requests_total",
            "job": f"job{i % 10}",
            "instance": f"host{i // 10:04d}:9100",
            "path": f"/api/v{i % 3}",
        }
        values = np.cumsum(rng.exponential(5.0, len(two_hours))).round(2)
        out.append(SeriesSamples(labels_from_dict(labels), two_hours, values))
    for h in range(n_histograms):
        observations = rng.gamma(2.0, 0.1, size=(len(two_hours), 20))
        edges = np.array([float(b) for b in BUCKETS])
        per_step = (observations[:, :, None] <= edges[None, None, :]).sum(axis=1)
        cumulative = np.cumsum(per_step, axis=0).astype(np.float64)
        for k, le in enumerate(BUCKETS):
            labels = {
                "__name__": "bench_latency_seconds_bucket",
                "job": f"job{h % 10}",
                "instance": f"host{h:04d}:9100",
                "le": le,
            }
            out.append(SeriesSamples(labels_from_dict(labels), two_hours, cumulative[:, k]))
    return out


def queries() -> dict[str, tuple[str, int, int, int]]:
    """name -> (query, start_ms, end_ms, step_ms)."""
    end = T0_MS + 7_200_000 - 60_000
    start = end - 99 * 60_000
    return {
        "single": (
            'bench_gauge{host="h1"}',
            T0_MS + 300_000,
            T0_MS + 300_000 + 86_400_000 - 300_000,
            15_000,
        ),
        "sum_rate": ("sum by (job) (rate(bench_requests_total[5m]))", start, end, 60_000),
        "histogram": (
            "histogram_quantile(0.9, sum by (job, le) (rate(bench_latency_seconds_bucket[5m])))",
            start,
            end,
            60_000,
        ),
    }


def load_victoria(vm: LocalVictoriaMetrics, data: list[SeriesSamples]) -> None:
    lines = [
        json.dumps(
            {
                "metric": dict(s.labels),
                "values": s.values.tolist(),
                "timestamps": s.timestamps.tolist(),
            }
        )
        for s in data
    ]
    for first in range(0, len(lines), 1000):
        body = "\n".join(lines[first : first + 1000]).encode()
        httpx.post(f"{vm.url}/api/v1/import", content=body, timeout=120).raise_for_status()
    vm.flush()


def process_cpu(process: psutil.Process) -> Callable[[], float]:
    def seconds() -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    return seconds


def timed(
    run: Callable[[], object], repeat: int, cpu_seconds: Callable[[], float]
) -> tuple[float, float, float, object]:
    """p50 and p99 wall milliseconds, and CPU milliseconds per run of whoever answers.

    The CPU figure matters on a shared machine, where wall time includes waiting for a core.
    """
    result = run()  # warm-up (and the answer to check)
    times = []
    cpu_before = cpu_seconds()
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    cpu_ms = (cpu_seconds() - cpu_before) * 1000 / repeat
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), cpu_ms, result


def engine_runner(store: MetricStore, query: tuple[str, int, int, int]) -> Callable[[], object]:
    engine = Engine(store)
    text, start, end, step = query

    def run() -> object:
        data = engine.range_query(TENANT, text, start, end, step).to_json()
        json.dumps(data)  # the response body the API would send
        return data

    return run


def vm_runner(
    client: httpx.Client, url: str, query: tuple[str, int, int, int]
) -> Callable[[], object]:
    text, start, end, step = query
    params = {
        "query": text,
        "start": str(start / 1000),
        "end": str(end / 1000),
        "step": f"{step // 1000}s",
    }

    def run() -> object:
        response = client.get(f"{url}/api/v1/query_range", params=params)
        response.raise_for_status()
        return response.json()["data"]

    return run


def point_count(data: object) -> int:
    assert isinstance(data, dict)
    return sum(len(series["values"]) for series in data["result"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=10_000, help="counters for (b)")
    parser.add_argument(
        "--histograms", type=int, default=100, help="histograms of 10 buckets for (c)"
    )
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--targets", nargs="+", default=["victoria", "memory", "embedded"])
    parser.add_argument("--output", type=Path, default=RESULTS / "query.json")
    args = parser.parse_args()
    data = dataset(args.series, args.histograms)
    print(f"{sum(len(s.timestamps) for s in data):,} samples in {len(data):,} series", flush=True)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as directory:
        for target in args.targets:
            runners: dict[str, Callable[[], object]] = {}
            cpu_seconds: Callable[[], float] = time.process_time
            if target == "victoria":
                vm = LocalVictoriaMetrics()
                vm.start()
                load_victoria(vm, data)
                client = httpx.Client(timeout=120)
                runners = {name: vm_runner(client, vm.url, q) for name, q in queries().items()}
                cpu_seconds = process_cpu(psutil.Process(vm.pid))
            else:
                store: MetricStore
                if target == "memory":
                    store = MemoryStore()
                else:
                    store = EmbeddedStore(Path(directory) / "embedded", fsync="never")
                for first in range(0, len(data), 1000):
                    store.append(TENANT, data[first : first + 1000])
                if isinstance(store, EmbeddedStore):
                    store.flush()
                runners = {name: engine_runner(store, q) for name, q in queries().items()}
            for name, run in runners.items():
                p50, p99, cpu, answer = timed(run, args.repeat, cpu_seconds)
                row = {
                    "target": target,
                    "query": name,
                    "p50_ms": round(p50, 1),
                    "p99_ms": round(p99, 1),
                    "cpu_ms": round(cpu, 1),
                }
                row["points"] = point_count(answer)
                rows.append(row)
                print(json.dumps(row), flush=True)
            if target == "victoria":
                client.close()
                vm.stop()
            else:
                store.close()
    anchor = {str(r["query"]): r for r in rows if r["target"] == "victoria"}
    print(
        f"\n{'query':10} {'target':9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>8} "
        f"{'p50/VM':>7} {'CPU/VM':>7} {'points':>7}"
    )
    for row in rows:
        base = anchor.get(str(row["query"]))
        wall = float(row["p50_ms"]) / float(base["p50_ms"]) if base else float("nan")  # type: ignore[arg-type]
        cpu = float(row["cpu_ms"]) / float(base["cpu_ms"]) if base else float("nan")  # type: ignore[arg-type]
        row["p50_ratio_vs_victoria"] = round(wall, 2)
        row["cpu_ratio_vs_victoria"] = round(cpu, 2)
        print(
            f"{row['query']:10} {row['target']:9} {row['p50_ms']:>8} {row['p99_ms']:>8} "
            f"{row['cpu_ms']:>8} {wall:>7.2f} {cpu:>7.2f} {row['points']:>7}"
        )
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(
        json.dumps({"series": args.series, "histograms": args.histograms, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
