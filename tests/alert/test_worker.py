"""The rule evaluation worker: rule files synchronised into the database, groups evaluated at
their interval on the manual clock, file groups removed when their file goes."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.alert.conftest import Rig
from watchkeeper.alert.service import list_groups
from watchkeeper.alert.worker import RuleEvaluationWorker
from watchkeeper.tenancy.service import TenantDirectory

RULES = """
groups:
  - name: node
    interval: 30s
    tenant: acme
    rules:
      - alert: Hot
        expr: cpu > 90
"""


def worker(rig: Rig, tmp_path: Path) -> RuleEvaluationWorker:
    return RuleEvaluationWorker(
        evaluator=rig.evaluator(),
        sessions=rig.sessions,
        tenants=TenantDirectory(rig.sessions),
        clock=rig.clock,
        rule_files=["rules/*.yaml"],
        default_interval=60.0,
        base_path=tmp_path,
    )


def test_file_groups_are_stored_for_their_tenant_and_evaluated_at_their_interval(
    rig: Rig, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "node.yaml").write_text(RULES)
    rules = worker(rig, tmp_path)
    assert rules.load_files().saved == 1
    with rig.sessions.tenant(rig.tenant) as db:
        (group,) = list_groups(db)
        assert (group.name, group.source, group.interval_seconds) == ("node", "file", 30.0)
    rig.put("cpu", 95, host="a")
    assert [r.group for r in rules.run_due()] == ["node"]
    assert rules.run_due() == []  # not due again before 30 s
    assert rules.next_due_in() == 1.0  # capped by the scan interval
    rig.clock.advance(30)
    assert [r.group for r in rules.run_due()] == ["node"]
    assert rig.alert("Hot").state == "firing"
    assert REGISTRY.get_sample_value("watchkeeper_alerts", {"state": "firing"}) == 1.0


def test_a_group_whose_file_is_gone_is_removed_and_its_alerts_resolved(
    rig: Rig, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "node.yaml").write_text(RULES)
    rules = worker(rig, tmp_path)
    rules.load_files()
    rig.put("cpu", 95, host="a")
    rules.run_due()
    (tmp_path / "rules" / "node.yaml").unlink()
    assert rules.load_files().removed == 1
    assert rig.alert("Hot").state == "resolved"
    assert rig.kinds() == ["firing", "resolved"]


def test_a_group_for_an_unknown_tenant_is_skipped_and_reported(rig: Rig, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "node.yaml").write_text(RULES.replace("acme", "nobody"))
    report = worker(rig, tmp_path).load_files()
    assert report.saved == 0
    assert "no tenant 'nobody'" in report.skipped[0]


def test_groups_get_their_own_slot_within_the_interval() -> None:
    from watchkeeper.alert.worker import next_slot

    interval = 15.0
    offsets = {next_slot(f"group-{i}", interval, 1_000.0) % interval for i in range(40)}
    assert len(offsets) == 40  # spread, not all at one instant
    assert max(offsets) - min(offsets) > interval / 2
    for last in (1_000.0, 1_007.3, 1_014.99):
        due = next_slot("group-1", interval, last)
        assert last < due <= last + interval
        assert next_slot("group-1", interval, due) == pytest.approx(due + interval)  # a grid
