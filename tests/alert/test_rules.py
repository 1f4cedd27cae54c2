"""Rule files: parsing, the extra rule types' compiled queries, and errors that point at the
problem (file, group, rule, field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.alert.rule_files import load_rule_files, parse_rule_file
from watchkeeper.alert.rules import RuleValidationError

GOOD = """
groups:
  - name: node
    interval: 30s
    rules:
      - alert: HighCpu
        expr: cpu > 90
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.host }} is hot"}
      - record: job:cpu:avg
        expr: avg by (job) (cpu)
  - name: other
    tenant: acme
    rules:
      - alert: Anomalous
        type: anomaly
        selector: 'latency{job="api"}'
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RuleValidationError) as caught:
        parse_rule_file(text, "rules.yaml", default_interval=60)
    return [str(p) for p in caught.value.problems]


def test_a_prometheus_rule_file_parses_into_typed_groups() -> None:
    node, other = parse_rule_file(GOOD, "rules.yaml", default_interval=60)
    assert (node.tenant, node.group.interval_seconds) == ("default", 30.0)
    cpu, record = node.group.rules
    assert (cpu.kind, cpu.spec.for_, cpu.spec.keep_firing_for) == ("alerting", 300.0, 60.0)
    assert record.kind == "recording"
    assert (other.tenant, other.group.interval_seconds) == ("acme", 60.0)
    assert other.group.rules[0].query == (
        '{__name__="watchkeeper_anomaly_score", job="api", metric="latency"} >= 0.5'
    )


def test_invalid_promql_points_at_file_group_rule_and_field() -> None:
    text = "groups: [{name: node, rules: [{alert: A, expr: up}, {alert: B, expr: 'cpu >'}]}]"
    (problem,) = problems(text)
    assert problem.startswith("rules.yaml: groups[0] (node) > rules[1] (B) > expr: invalid PromQL")


def test_invalid_template_is_refused_at_load() -> None:
    text = """
groups:
  - name: node
    rules:
      - alert: A
        expr: up
        annotations: {summary: "{{ $labels.host "}
"""
    (problem,) = problems(text)
    assert "rules[0] (A) > annotations.summary: invalid template" in problem


def test_go_template_call_syntax_is_refused_with_the_jinja_form() -> None:
    text = """
groups:
  - name: node
    rules:
      - alert: A
        expr: up
        annotations: {summary: "{{ humanize $value }}"}
"""
    (problem,) = problems(text)
    assert "{{ $value | humanize }}" in problem


def test_every_problem_is_listed_not_only_the_first() -> None:
    text = """
groups:
  - name: node
    rules:
      - alert: A
        expr: up
        for: 5 minutes
      - alert: B
        type: forecast
        selector: disk
      - record: r
        expr: up
        annotations: {a: b}
      - alert: C
        type: composite
        all_of: [Missing]
      - alert: D
        expr: up
        colour: red
"""
    found = problems(text)
    assert any("rules[0] (A) > for:" in p and "not a duration" in p for p in found)
    assert any("rules[4] (D) > colour: unknown key" in p for p in found)
    # Type errors are reported once the keys themselves are valid:
    fixed = problems(text.replace("for: 5 minutes", "for: 5m").replace("colour: red", ""))
    assert any("rules[1] (B) > threshold: required" in p for p in fixed)
    assert any("rules[1] (B) > within: required" in p for p in fixed)
    assert any("rules[2] (r) > annotations: not used by a recording rule" in p for p in fixed)
    assert any("rules[3] (C) > all_of: Missing" in p for p in fixed)


def test_rule_needs_exactly_one_of_alert_and_record() -> None:
    (problem,) = problems("groups: [{name: g, rules: [{alert: A, record: r, expr: up}]}]")
    assert "exactly one of `alert` or `record`" in problem


def test_rule_files_are_found_by_glob_relative_to_the_base(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yaml").write_text(GOOD)
    (tmp_path / "rules" / "b.yml").write_text("groups: []")
    groups = load_rule_files(["rules/*.yaml", "rules/*.yml"], default_interval=60, base=tmp_path)
    assert [g.group.name for g in groups] == ["node", "other"]


def test_the_same_group_in_two_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleValidationError) as caught:
        load_rule_files([str(tmp_path / "*.yaml")], default_interval=60)
    assert "already has this group in" in str(caught.value)
