"""Rule evaluation benchmark: 1,000 threshold rules over 10,000 series, every 15 s.

Generated data: 100 metrics (`bench_metric_<k>`) x 100 instances in 10 shards, 20 samples
at a 15 s scrape, in an embedded store (fsync off). Rules: `bench_metric_<k>{shard="<s>"} > 1000`
(each selects 10 series, none fires at rest), 1,000 of them in 10 groups of 100, interval 15 s.
Metadata in a migrated SQLite file, as in the single-node default.

(a) `round`: wall time of one evaluation round of every group (`GroupEvaluator.evaluate`,
    queries and state transaction), and its CPU share (process CPU time / wall; > 1 would
    mean more than one core). p50/max over --rounds. Target: < 2 s on one core.
(b) `latency`: the real `RuleEvaluationWorker` loop at its normal cadence (system clock);
    --crossings samples above the threshold are ingested through `IngestService` at random
    moments, and each one's latency is ingest -> end of the evaluation that made the alert
    firing (`for: 0`). Target: p99 < interval + 100 ms.

    .venv/bin/python bench/rules.py [--series 10000 --rules 1000 --crossings 50]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from sqlalchemy import create_engine, select, update

from watchkeeper.alert.evaluator import GroupEvaluator, GroupResult
from watchkeeper.alert.rules import CompiledGroup, compile_group, group_spec
from watchkeeper.alert.service import save_group
from watchkeeper.alert.worker import RuleEvaluationWorker
from watchkeeper.clock import ManualClock, SystemClock
from watchkeeper.db import migrate
from watchkeeper.db.tables import AlertInstance, AlertRuleGroup
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.ingest.service import IngestService
from watchkeeper.query import Engine
from watchkeeper.store.embedded import EmbeddedStore
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import TenantDirectory, create_tenant

RESULTS = Path(__file__).parent / "results"
SCRAPE_S = 15
SHARDS = 10
THRESHOLD = 1000.0


def dataset(n_series: int, end_s: float) -> list[SeriesSamples]:
    rng = np.random.default_rng(42)
    times = (end_s - SCRAPE_S * np.arange(19, -1, -1)) * 1000
    out = []
    for i in range(n_series):
        labels = {
            "__name__": f"bench_metric_{i % 100}",
            "instance": f"host{i // 100:03d}",
            "shard": f"s{(i // 100) % SHARDS}",
        }
        values = rng.uniform(0, 100, len(times)).round(2)
        out.append(SeriesSamples(labels_from_dict(labels), times.astype(np.int64), values))
    return out


def rule_groups(n_rules: int, interval: int) -> list[dict[str, Any]]:
    rules = [
        {
            "alert": f"Rule{i}",
            "expr": f'bench_metric_{i % 100}{{shard="s{(i // 100) % SHARDS}"}} > {THRESHOLD}',
            "for": "0s",
        }
        for i in range(n_rules)
    ]
    per_group = 100
    return [
        {"name": f"bench{g}", "interval": f"{interval}s", "rules": rules[g : g + per_group]}
        for g in range(0, n_rules, per_group)
    ]


def setup(root: Path, n_series: int, n_rules: int, interval: int, start: float) -> dict[str, Any]:
    store = EmbeddedStore(root / "tsdb", fsync="never")
    engine = create_engine(f"sqlite:///{root / 'meta.db'}")
    migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    with sessions.system("bench") as db:
        tenant = create_tenant(db, name="bench", now=ManualClock(start).now()).id
    data = dataset(n_series, start)
    store.append(tenant, data)
    groups: list[CompiledGroup] = []
    with sessions.tenant(tenant) as db:
        for spec in rule_groups(n_rules, interval):
            group = compile_group(group_spec(spec), default_interval=interval)
            save_group(db, group, now=ManualClock(start).now(), create=True)
            groups.append(group)
    return {
        "store": store,
        "engine": engine,
        "sessions": sessions,
        "tenant": tenant,
        "groups": groups,
        "series": data,
    }


def bench_round(rig: dict[str, Any], start: float, rounds: int) -> dict[str, float]:
    clock = ManualClock(start)
    evaluator = GroupEvaluator(
        query=Engine(rig["store"], clock=clock),
        store=rig["store"],
        sessions=rig["sessions"],
        clock=clock,
    )
    walls, shares = [], []
    for _ in range(rounds + 1):  # the first round warms caches and is not counted
        clock.advance(SCRAPE_S)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for group in rig["groups"]:
            evaluator.evaluate(rig["tenant"], group)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        walls.append(wall)
        shares.append(cpu / wall)
    walls, shares = walls[1:], shares[1:]
    return {
        "round_p50_s": float(np.median(walls)),
        "round_max_s": float(np.max(walls)),
        "cpu_share_p50": float(np.median(shares)),
        "rules_per_s": len(rig["groups"]) * 100 / float(np.median(walls)),
    }


class _Timed(GroupEvaluator):
    """The evaluator, noting when each evaluation that made a watched alert fire ended."""

    def __init__(self, watched: dict[str, float], latencies: list[float], **kw: Any) -> None:
        super().__init__(**kw)
        self.watched = watched
        self.latencies = latencies
        self.lock = threading.Lock()

    def evaluate(self, tenant_id: str, group: CompiledGroup) -> GroupResult:
        result = super().evaluate(tenant_id, group)
        done = time.time()
        with self.lock:
            names = [r.name for r in group.rules if r.name in self.watched]
        if names:
            with self.sessions.tenant(tenant_id) as db:
                firing = set(
                    db.scalars(
                        select(AlertInstance.rule_name).where(
                            AlertInstance.rule_name.in_(names), AlertInstance.state == "firing"
                        )
                    )
                )
            with self.lock:
                for name in firing:
                    self.latencies.append(done - self.watched.pop(name))
        return result


def bench_latency(rig: dict[str, Any], crossings: int, interval: int) -> dict[str, float]:
    clock = SystemClock()
    with rig["sessions"].system("bench: forget the manual clock's evaluations") as db:
        db.execute(update(AlertRuleGroup).values(last_evaluation=None))
    watched: dict[str, float] = {}
    latencies: list[float] = []
    evaluator = _Timed(
        watched,
        latencies,
        query=Engine(rig["store"], clock=clock),
        store=rig["store"],
        sessions=rig["sessions"],
        clock=clock,
    )
    worker = RuleEvaluationWorker(
        evaluator=evaluator,
        sessions=rig["sessions"],
        tenants=TenantDirectory(rig["sessions"]),
        clock=clock,
        rule_files=[],
        default_interval=interval,
    )
    ingest = IngestService(rig["store"], clock)
    rng = random.Random(7)
    n_rules = sum(len(g.rules) for g in rig["groups"])
    targets = rng.sample(range(n_rules), crossings)

    def cross() -> None:
        time.sleep(interval)  # let the first round (every group at once) pass
        for i in targets:
            time.sleep(rng.uniform(0, 3 * interval / crossings * 2))
            labels = {
                "__name__": f"bench_metric_{i % 100}",
                "instance": f"host{((i // 100) % SHARDS):03d}",
                "shard": f"s{(i // 100) % SHARDS}",
            }
            sample = SeriesSamples(
                labels_from_dict(labels),
                np.array([round(time.time() * 1000)], np.int64),
                np.array([THRESHOLD * 2]),
            )
            with evaluator.lock:
                watched[f"Rule{i}"] = time.time()
            result = ingest.write(rig["tenant"], [sample], source="bench")
            assert result.ok, result

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(worker.run)
            await anyio.to_thread.run_sync(cross)
            deadline = time.time() + interval + 5
            while watched and time.time() < deadline:
                await anyio.sleep(0.1)
            tasks.cancel_scope.cancel()

    anyio.run(main)
    values = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "crossings": len(values),
        "missed": len(watched),
        "latency_p50_s": float(np.percentile(values, 50)),
        "latency_p99_s": float(np.percentile(values, 99)),
        "latency_max_s": float(values.max()),
        "target_s": interval + 0.1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=1_000)
    parser.add_argument("--interval", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--crossings", type=int, default=50)
    parser.add_argument("--output", type=Path, default=RESULTS / "rules.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        rig = setup(Path(tmp), args.series, args.rules, args.interval, start)
        print(f"{args.series:,} series, {args.rules:,} rules in {len(rig['groups'])} groups")
        rounds = bench_round(rig, start, args.rounds)
        print(f"{'round p50':<22}{rounds['round_p50_s']:.3f} s (target < 2 s)")
        print(f"{'round max':<22}{rounds['round_max_s']:.3f} s")
        print(f"{'CPU share':<22}{rounds['cpu_share_p50']:.2f} (process CPU / wall)")
        print(f"{'rules per second':<22}{rounds['rules_per_s']:,.0f}")
        latency = bench_latency(rig, args.crossings, args.interval) if args.crossings else {}
        if latency:
            print(f"{'crossings':<22}{latency['crossings']} (missed {latency['missed']})")
            print(f"{'latency p50':<22}{latency['latency_p50_s']:.3f} s")
            print(
                f"{'latency p99':<22}{latency['latency_p99_s']:.3f} s "
                f"(target < {latency['target_s']:.1f} s)"
            )
        rig["store"].close()
        rig["engine"].dispose()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, **rounds, **latency}, indent=2
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
