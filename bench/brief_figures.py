"""The product brief's AI figures, measured with the product's defaults (issue 14).

    .venv/bin/python bench/brief_figures.py --nab ../shared/data/nab \
        --m4 ../shared/data/m4-hourly [--scenarios 40] [--json bench/results/brief_figures.json]

Three parts, each skipped when its data path is not given (`--no-correlation` skips the last):

- anomalies: `DETECTORS["default"]` at its own threshold on NAB; precision of detections
  (inside a labelled window / all, a detection counted as NAB's scorer counts one: every
  point at or above the threshold after the probationary period; also as runs), recall of
  windows, the false share; and false events per series-day on the normal-series suite
  (`watchkeeper bench normal`'s code, seed 0, 12 series per kind, 10 days);
- predictions: `FORECASTERS["default"]` on M4 hourly (train -> 48 h), share of the
  24-hour-ahead point and of all points <= 24 h ahead within +-10 % of the actual, and the
  coverage of the 80 % and 95 % intervals;
- correlations: seeded incident scenarios with known ground truth, written as the rule
  evaluator writes alerts and grouped by the real `Correlator` (server defaults, SQLite in a
  temporary folder, a ManualClock, one pass per 10 s); pairwise precision/recall/F1. A second
  run with learned co-occurrence links switched off is a diagnostic, not the figure.
Definitions are in `watchkeeper.detect.figures`; nothing here tunes a constant.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Hashable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, select

from watchkeeper.alert.model import fingerprint
from watchkeeper.alert.state import record_transition
from watchkeeper.cli.bench_m4 import forecast_corpus, interval_scores
from watchkeeper.cli.bench_normal import summarise
from watchkeeper.clock import ManualClock
from watchkeeper.config import IncidentSettings
from watchkeeper.db import migrate
from watchkeeper.db.tables import AlertInstance, Incident, IncidentAlert
from watchkeeper.detect import DETECTORS
from watchkeeper.detect.figures import (
    DetectionCounts,
    PairScores,
    count_detections,
    pairwise_scores,
    share_within,
)
from watchkeeper.detect.forecast import m4 as m4_scoring
from watchkeeper.detect.nab import NabScorer, load_windows, read_corpus
from watchkeeper.detect.normal_suite import run_suite
from watchkeeper.incidents.classifier import IncidentClassifier
from watchkeeper.incidents.correlation import CorrelationRules, Correlator
from watchkeeper.incidents.lifecycle import Policy
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import create_tenant

# -- anomalies ---------------------------------------------------------------------------


def _counts(c: DetectionCounts) -> dict[str, float]:
    return {
        **asdict(c),
        "detections": c.detections,
        "precision": c.precision,
        "false_share": c.false_share,
        "window_recall": c.window_recall,
    }


def anomalies(nab: Path) -> dict[str, Any]:
    data_dir = nab / "data" if (nab / "data").is_dir() else nab
    windows = load_windows(nab / "combined_windows.json")
    corpus = read_corpus(data_dir, sorted(n for n in windows if (data_dir / n).exists()))
    scorer = NabScorer.from_files(windows, corpus)
    points = DetectionCounts(0, 0, 0, 0)
    runs = DetectionCounts(0, 0, 0, 0)
    threshold = 0.0
    for series in corpus:
        detector = DETECTORS["default"]()
        threshold = detector.threshold
        scores = detector.update_many(series.seconds, series.values)
        layout = scorer.layouts[series.relative_path]
        points += count_detections(layout, scores, threshold)
        runs += count_detections(layout, scores, threshold, runs=True)
    normal = summarise(run_suite(DETECTORS["default"], seed=0, per_kind=12, days=10.0))
    return {
        "detector": "default",
        "threshold": threshold,
        "nab_files": len(corpus),
        "nab_points": int(sum(len(s.values) for s in corpus)),
        "nab_point_detections": _counts(points),
        "nab_run_detections": _counts(runs),
        "normal_suite": {"seed": 0, "per_kind": 12, "days": 10.0, **normal["total"]},
        "normal_suite_kinds": normal["kinds"],
    }


# -- predictions -------------------------------------------------------------------------


def predictions(m4: Path, workers: int) -> dict[str, Any]:
    train = m4_scoring.read_series(m4 / "train.csv")
    test = m4_scoring.read_series(m4 / "test.csv")
    horizon = len(next(iter(test.values())))
    full, wall = forecast_corpus("default", train, horizon, (24, 168), 3600.0, workers)
    keys = list(test)
    actual = np.stack([test[k] for k in keys])
    mean = np.stack([full[k].mean for k in keys])

    def cover(lo: str, hi: str, upto: int) -> float:
        low = np.stack([getattr(full[k], lo)[:upto] for k in keys])
        high = np.stack([getattr(full[k], hi)[:upto] for k in keys])
        a = actual[:, :upto]
        return float(np.mean((a >= low) & (a <= high)))

    return {
        "forecaster": "default",
        "series": len(keys),
        "horizon": horizon,
        "wall_seconds": wall,
        "within10_at_24h": share_within(actual[:, 23], mean[:, 23]),
        "within10_upto_24h": share_within(actual[:, :24], mean[:, :24]),
        "within10_all_48h": share_within(actual, mean),
        "coverage80_upto_24h": cover("lo80", "hi80", 24),
        "coverage95_upto_24h": cover("lo95", "hi95", 24),
        **interval_scores(test, full, train, 24),
    }


# -- correlations ------------------------------------------------------------------------

CAUSES: tuple[tuple[str, ...], ...] = (
    ("HighLatency", "HighErrorRate", "UpstreamTimeouts", "ApdexLow"),
    ("PodCrashLooping", "DeploymentReplicasMismatch", "HighErrorRate", "ContainerOOMKilled"),
    ("DiskSpaceLow", "DiskIOSaturated", "HighLatency", "WriteErrors"),
    ("HostDown", "TargetDown", "HighErrorRate", "NodeNotReady"),
    ("CPUThrottlingHigh", "HighLoad", "HighLatency", "QueueBacklogGrowing"),
    ("CertificateExpiringSoon", "TLSHandshakeErrors", "HighErrorRate"),
)
NOISE = ("CPUHigh", "MemoryHigh", "DiskSpaceLow", "HighLatency", "BackupFailed", "TargetDown")
SERVICES = tuple(f"svc-{n}" for n in ("api", "web", "db", "cache", "queue", "auth", "search"))
SERVICES += tuple(f"svc-{n}" for n in ("billing", "mail", "cdn", "batch", "metrics"))
CLUSTERS = ("eu-1", "us-1", "ap-1")
FAMILIES = ("service+cluster", "service_only", "job_or_app", "mixed")
"""Label conventions: `service` and `cluster` on every alert; `service`, no cluster; `job` or
`app` instead of `service` (one per incident), cluster on half; each alert picks its own
service key, host key and whether cluster/namespace are present."""
TICK = 10.0  # incidents.interval_seconds' default: the worker's pass interval
GAP = 3 * 3600.0  # between scenarios: past the window and the reopen window


@dataclass(frozen=True)
class Fired:
    at: float
    labels: dict[str, str]
    truth: int | None  # the incident it belongs to, None for noise


def _labels(
    rng: np.random.Generator, family: str, per_incident: tuple[str, bool], name: str, svc: str
) -> dict[str, str]:
    cluster = str(rng.choice(CLUSTERS))
    host_key = "instance"
    key, with_cluster = per_incident
    namespace = False
    if family == "mixed":
        key = str(rng.choice(["service", "job", "app"]))
        host_key = str(rng.choice(["instance", "host", "node"]))
        with_cluster = bool(rng.random() < 0.5)
        namespace = bool(rng.random() < 0.5)
    labels = {
        "alertname": name,
        key: svc,
        host_key: f"10.0.{rng.integers(256)}.{rng.integers(256)}",
    }
    if with_cluster:
        labels["cluster"] = cluster
    if namespace:
        labels["namespace"] = svc.removeprefix("svc-")
    labels["severity"] = str(rng.choice(["warning", "critical"]))
    return labels


def scenario(rng: np.random.Generator, family: str) -> list[Fired]:
    """2-4 concurrent incidents of 3-8 alerts each within 5 minutes, plus 2-6 noise alerts."""
    services = list(rng.permutation(SERVICES))
    out: list[Fired] = []
    for k in range(int(rng.integers(2, 5))):
        cause = CAUSES[int(rng.integers(len(CAUSES)))]
        svc = str(services.pop())
        cluster_here = {"service+cluster": True, "service_only": False}.get(
            family, bool(rng.random() < 0.5)
        )
        key = "service" if family in ("service+cluster", "service_only") else "job"
        if family == "job_or_app":
            key = str(rng.choice(["job", "app"]))
        start = float(rng.uniform(0, 300))
        cluster = str(rng.choice(CLUSTERS))
        for _ in range(int(rng.integers(3, 9))):
            labels = _labels(rng, family, (key, cluster_here), str(rng.choice(cause)), svc)
            if "cluster" in labels:
                labels["cluster"] = cluster  # one incident, one cluster
            out.append(Fired(start + float(rng.uniform(0, 300)), labels, k))
    for _ in range(int(rng.integers(2, 7))):
        labels = _labels(rng, family, ("service", True), str(rng.choice(NOISE)), services.pop())
        out.append(Fired(float(rng.uniform(0, 600)), labels, None))
    return sorted(out, key=lambda f: f.at)


def _reason_kind(reason: str) -> str:
    """Which correlation step put an alert where it is (from the member's recorded reason)."""
    for prefix, kind in (
        ("opened the incident", "opened"),
        ("shares ", "shared labels"),
        ("same alertname", "same alertname"),
    ):
        if reason.startswith(prefix):
            return kind
    return "learned co-occurrence" if " fired together with " in reason else "other"


class Timeline:
    """One tenant, alerts written as the evaluator writes them, the server's correlator."""

    def __init__(self, folder: Path, *, learned_links: bool = True) -> None:
        engine = create_engine(f"sqlite:///{folder / 'meta.db'}")
        migrate.upgrade(engine)
        self.sessions = SessionFactory(engine)
        self.clock = ManualClock(start=1_767_225_600.0)
        with self.sessions.system("brief figures bench") as db:
            self.tenant = create_tenant(db, name="bench", now=self.clock.now()).id
        defaults = IncidentSettings()  # the server's defaults, as wiring builds them
        policy = Policy(IncidentClassifier(folder / "models"), receiver=defaults.receiver)
        self.rules = CorrelationRules.from_settings(defaults)
        if not learned_links:  # diagnostic only: what step 3 (co-occurrence) contributes
            self.rules = replace(self.rules, cooccurrence_min_count=10**9)
        self.reasons: Counter[str] = Counter()
        self.correlator = Correlator(self.rules, policy)

    def _write(self, labels: dict[str, str], to_state: str) -> str:
        fp = fingerprint(labels)
        now = self.clock.now()
        with self.sessions.tenant(self.tenant) as db:
            row = db.scalar(
                select(AlertInstance).where(
                    AlertInstance.group_name == "bench", AlertInstance.fingerprint == fp
                )
            )
            if row is None:
                row = AlertInstance(
                    group_name="bench",
                    rule_name=labels["alertname"],
                    fingerprint=fp,
                    labels=labels,
                    annotations={},
                    state="pending",
                    value=1.0,
                    active_at=now,
                    last_evaluation=now,
                )
                db.add(row)
            previous = row.state
            row.state = to_state
            if to_state == "firing":
                row.fired_at, row.ends_at = now, None
            else:
                row.ends_at = now
            record_transition(db, row, previous, to_state, now)
        return fp

    def _pass(self) -> None:
        with self.sessions.tenant(self.tenant) as db:
            self.correlator.run(db, self.clock.now())

    def play(self, alerts: list[Fired]) -> PairScores:
        """Fire the scenario tick by tick with a pass per tick, score, then resolve it all."""
        begin = self.clock.now()
        pending = list(alerts)
        fps: dict[Hashable, int | None] = {}
        elapsed = 0.0
        while pending:
            elapsed += TICK
            while pending and pending[0].at < elapsed:
                fired = pending.pop(0)
                fps[self._write(fired.labels, "firing")] = fired.truth
            self.clock.advance(TICK)
            self._pass()
        for _ in range(6):
            self.clock.advance(TICK)
            self._pass()
        with self.sessions.tenant(self.tenant) as db:
            rows = db.execute(
                select(IncidentAlert.fingerprint, IncidentAlert.reason, Incident.id)
                .join(Incident, Incident.id == IncidentAlert.incident_id)
                .where(IncidentAlert.joined_at >= begin)
            ).all()
        predicted: dict[Hashable, Hashable | None] = {fp: incident for fp, _, incident in rows}
        for _, reason, _ in rows:
            self.reasons[_reason_kind(reason)] += 1
        truth: dict[Hashable, Hashable | None] = dict(fps)
        for alert in alerts:
            self._write(alert.labels, "resolved")
        self.clock.advance(TICK)
        self._pass()
        self.clock.advance(GAP)
        return pairwise_scores(truth, predicted)


def correlations(seed: int, scenarios_per_family: int, learned_links: bool) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    order = [f for f in FAMILIES for _ in range(scenarios_per_family)]
    order = [str(f) for f in rng.permutation(order)]
    by_family: dict[str, PairScores] = defaultdict(lambda: PairScores(0, 0, 0))
    alerts = 0
    with tempfile.TemporaryDirectory() as folder:
        timeline = Timeline(Path(folder), learned_links=learned_links)
        for family in order:
            played = scenario(rng, family)
            alerts += len(played)
            by_family[family] += timeline.play(played)
        rules = asdict(timeline.rules)
        reasons = dict(timeline.reasons)
    total = sum(by_family.values(), PairScores(0, 0, 0))

    def row(s: PairScores) -> dict[str, float]:
        return {**asdict(s), "precision": s.precision, "recall": s.recall, "f1": s.f1}

    return {
        "seed": seed,
        "scenarios": len(order),
        "alerts": alerts,
        "rules": rules,
        "members_by_reason": reasons,
        "families": {f: row(by_family[f]) for f in FAMILIES},
        "total": row(total),
    }


# -- report ------------------------------------------------------------------------------


def format_table(report: dict[str, Any]) -> str:
    lines = [f"{'figure':58} {'measured':>9}"]

    def add(name: str, value: float) -> None:
        lines.append(f"{name:58} {value:9.3f}")

    if "anomalies" in report:
        a = report["anomalies"]
        for kind in ("point", "run"):
            c = a[f"nab_{kind}_detections"]
            add(f"NAB precision of detections ({kind}s, {c['detections']})", c["precision"])
            add(f"NAB false share of detections ({kind}s)", c["false_share"])
            add(f"NAB window recall ({kind}s, {c['windows']} windows)", c["window_recall"])
        add("normal suite false events per series-day", a["normal_suite"]["per_series_day"])
    if "predictions" in report:
        p = report["predictions"]
        add("M4 share within +-10 % at 24 h ahead", p["within10_at_24h"])
        add("M4 share within +-10 %, all points <= 24 h", p["within10_upto_24h"])
        add("M4 share within +-10 %, all 48 h", p["within10_all_48h"])
        for level in ("80", "95"):
            add(f"M4 coverage of the {level} % interval, all 48 h", p[f"coverage{level}"])
            add(
                f"M4 coverage of the {level} % interval, points <= 24 h",
                p[f"coverage{level}_upto_24h"],
            )
    for key, note in (("correlations", ""), ("correlations_without_learned_links", " [diag]")):
        if key not in report:
            continue
        c = report[key]
        for family, s in [*c["families"].items(), ("total", c["total"])]:
            text = f"F1{note}, {family} (P {s['precision']:.3f}, R {s['recall']:.3f})"
            add(text, s["f1"])
        lines.append(f"  members by reason: {c['members_by_reason']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nab", type=Path, help="NAB root with data/ and combined_windows.json")
    parser.add_argument("--m4", type=Path, help="M4-layout folder with train.csv and test.csv")
    parser.add_argument("--workers", type=int, default=2, help="forecast worker processes")
    parser.add_argument("--no-correlation", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help="incident scenario seed")
    parser.add_argument("--scenarios", type=int, default=40, help="scenarios per convention")
    parser.add_argument("--json", type=Path, default=Path("bench/results/brief_figures.json"))
    args = parser.parse_args()
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": os.getloadavg()[0],
    }
    timings: dict[str, float] = {}
    if args.nab:
        started = time.perf_counter()
        report["anomalies"] = anomalies(args.nab)
        timings["anomalies"] = time.perf_counter() - started
    if args.m4:
        started = time.perf_counter()
        report["predictions"] = predictions(args.m4, args.workers)
        timings["predictions"] = time.perf_counter() - started
    if not args.no_correlation:
        started = time.perf_counter()
        report["correlations"] = correlations(args.seed, args.scenarios, learned_links=True)
        report["correlations_without_learned_links"] = correlations(
            args.seed, args.scenarios, learned_links=False
        )
        timings["correlations"] = time.perf_counter() - started
    report["seconds"] = timings
    print(format_table(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
