"""The rule evaluation worker: one loop that evaluates each tenant's groups at their interval.

At start it synchronises the `rule_files` groups into the database. Then, on every wake-up,
it lists the stored groups (all tenants: among replicas one runs this worker, under a lease —
`runtime/lease.py`),
evaluates those whose next slot has come (each group has its own offset within its interval,
see `next_slot`), and sleeps until the next one is due (at most `scan_seconds`, so new and changed groups are picked up quickly).
A group's cadence survives restarts: the first due time is computed from its stored
`last_evaluation`. Tests call `run_due` directly with a ManualClock.

Tenants share this one loop, so a pass is fair between them (docs: ARCHITECTURE "Shared
workers"): due groups are taken round-robin across tenants (the first tenant rotates from
pass to pass), most overdue first within a tenant, and a tenant that has used
`tenant_pass_seconds` of evaluation in this pass has its other due groups deferred to the
next pass (which starts at once). With each group capped by its evaluation budget (see
evaluator.py), another tenant's due group waits at most one group budget, however many
pathological groups a tenant has.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from prometheus_client import Gauge
from sqlalchemy import select

from watchkeeper.alert.evaluator import GroupEvaluator, GroupResult
from watchkeeper.alert.rule_files import load_rule_files
from watchkeeper.alert.rules import CompiledGroup, RuleValidationError
from watchkeeper.alert.service import SyncReport, compile_row, sync_file_groups
from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertRuleGroup, Tenant
from watchkeeper.runtime.worker import Placement
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import TenantDirectory

log = structlog.get_logger(__name__)

ALERTS = Gauge("watchkeeper_alerts", "Alerts of the evaluated rule groups, by state", ["state"])


@dataclass(frozen=True)
class _Scheduled:
    tenant_id: str
    group_id: str
    revision: int
    last_evaluation: float | None


class RuleEvaluationWorker:
    """Evaluates every due rule group (see the module docstring)."""

    name = "rules"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        *,
        evaluator: GroupEvaluator,
        sessions: SessionFactory,
        tenants: TenantDirectory,
        clock: Clock,
        rule_files: Sequence[str],
        default_interval: float,
        base_path: Path | None = None,
        scan_seconds: float = 1.0,
        tenant_pass_seconds: float | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.sessions = sessions
        self.tenants = tenants
        self.clock = clock
        self.rule_files = list(rule_files)
        self.default_interval = default_interval
        self.base_path = base_path
        self.scan_seconds = scan_seconds
        self._compiled: dict[tuple[str, int], CompiledGroup] = {}
        self._last: dict[str, float] = {}
        self._states: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self.tenant_pass_seconds = tenant_pass_seconds
        self._passes = 0
        self._deferred = 0

    def load_files(self) -> SyncReport:
        """Read the rule files and make the stored file groups match them."""
        groups = load_rule_files(
            self.rule_files, default_interval=self.default_interval, base=self.base_path
        )
        report = sync_file_groups(self.sessions, self.tenants, groups, self.clock.now())
        log.info("rule_files_loaded", groups=report.saved, removed=report.removed)
        return report

    def _schedule(self) -> list[_Scheduled]:
        with self.sessions.system("rule evaluation: list groups") as db:
            rows = db.execute(
                select(
                    AlertRuleGroup.tenant_id,
                    AlertRuleGroup.id,
                    AlertRuleGroup.revision,
                    AlertRuleGroup.last_evaluation,
                )
                .join(Tenant, Tenant.id == AlertRuleGroup.tenant_id)
                .where(Tenant.disabled.is_(False))
            ).all()
        return [
            _Scheduled(tenant, group, revision, last.timestamp() if last else None)
            for tenant, group, revision, last in rows
        ]

    def _group(self, item: _Scheduled) -> CompiledGroup | None:
        key = (item.group_id, item.revision)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self.sessions.tenant(item.tenant_id) as db:
                row = db.get(AlertRuleGroup, item.group_id)
                if row is None:
                    return None
                compiled = compile_row(row, self.default_interval)
            self._compiled = {k: v for k, v in self._compiled.items() if k[0] != item.group_id}
            self._compiled[key] = compiled
        return compiled

    def _due(
        self, scheduled: list[_Scheduled], now: float
    ) -> dict[str, deque[tuple[_Scheduled, CompiledGroup]]]:
        """Each tenant's due groups, most overdue (never evaluated: first) first."""
        due: dict[str, list[tuple[float, str, _Scheduled, CompiledGroup]]] = {}
        for item in scheduled:
            group = self._group(item)
            if group is None:
                continue
            last = self._last.get(item.group_id, item.last_evaluation)
            slot = (
                -math.inf
                if last is None
                else next_slot(item.group_id, group.interval_seconds, last)
            )
            if now < slot:
                continue
            due.setdefault(item.tenant_id, []).append((slot, item.group_id, item, group))
        return {
            tenant: deque(
                (item, group) for _, _, item, group in sorted(groups, key=lambda g: g[:2])
            )
            for tenant, groups in due.items()
        }

    def _fair_order(self, tenants: list[str]) -> list[str]:
        """Tenants in id order, starting one further each pass: nobody is always first."""
        tenants = sorted(tenants)
        if not tenants:
            return tenants
        start = self._passes % len(tenants)
        return tenants[start:] + tenants[:start]

    def run_due(self) -> list[GroupResult]:
        """Evaluate the groups due at the clock's time, fairly between tenants (see the module
        docstring); returns what each evaluation did, in evaluation order."""
        with self._lock:
            now = self.clock.time()
            results = []
            scheduled = self._schedule()
            queues = self._due(scheduled, now)
            order = self._fair_order(list(queues))
            self._passes += 1
            used = dict.fromkeys(order, 0.0)
            deferred = 0
            while any(queues[tenant] for tenant in order):
                for tenant in order:
                    queue = queues[tenant]
                    if not queue:
                        continue
                    if (
                        self.tenant_pass_seconds is not None
                        and used[tenant] >= self.tenant_pass_seconds
                    ):
                        deferred += len(queue)
                        log.warning(
                            "rule_groups_deferred",
                            tenant=tenant,
                            groups=len(queue),
                            used_seconds=round(used[tenant], 3),
                        )
                        queue.clear()
                        continue
                    item, group = queue.popleft()
                    started = time.perf_counter()  # evaluation work, not a wait: real time
                    result = self._evaluate(item, group, now)
                    used[tenant] += time.perf_counter() - started
                    if result is not None:
                        results.append(result)
            self._deferred = deferred
            live = {item.group_id for item in scheduled}
            self._states = {k: v for k, v in self._states.items() if k in live}
            self._last = {k: v for k, v in self._last.items() if k in live}
            for state in ("pending", "firing"):
                ALERTS.labels(state).set(sum(s.get(state, 0) for s in self._states.values()))
            return results

    def _evaluate(self, item: _Scheduled, group: CompiledGroup, now: float) -> GroupResult | None:
        try:
            result = self.evaluator.evaluate(item.tenant_id, group)
        except Exception as exc:  # one group's failure must not starve the others
            log.error("rule_group_failed", group=group.name, exc_info=exc)
            return None
        self._last[item.group_id] = now
        self._states[item.group_id] = result.states
        return result

    def next_due_in(self) -> float:
        """Seconds until the next group is due, capped at scan_seconds (none: groups were
        deferred by the last pass and are due now)."""
        if self._deferred:
            return 0.0
        now = self.clock.time()
        waits = [self.scan_seconds]
        for group_id, last in self._last.items():
            interval = next(
                (g.interval_seconds for (gid, _), g in self._compiled.items() if gid == group_id),
                self.scan_seconds,
            )
            waits.append(next_slot(group_id, interval, last) - now)
        return max(min(waits), 0.0)

    async def run(self) -> None:
        if self.rule_files:
            try:
                await anyio.to_thread.run_sync(self.load_files)
            except RuleValidationError as exc:  # keep the stored groups; say what is wrong
                log.error("rule_files_invalid", problems=[str(p) for p in exc.problems])
        while True:
            await anyio.to_thread.run_sync(self.run_due)
            await self.clock.sleep(max(self.next_due_in(), 0.01))


def next_slot(group_id: str, interval: float, last: float) -> float:
    """The group's first evaluation time after `last`, on its own grid.

    As in Prometheus, each group has a fixed offset within its interval (from a hash of its
    id), so groups with the same interval are spread over it instead of all evaluating at the
    same instant: a round of many groups no longer delays the last of them by the time the
    others take, and the CPU load is even. A group never evaluated before runs at once.
    """
    offset = int(hashlib.sha256(group_id.encode()).hexdigest()[:12], 16) % 1_000_000 / 1e6
    offset *= interval
    slots = math.floor((last - offset) / interval) + 1
    return offset + slots * interval
