"""The rules an SLO generates, evaluated with a manual clock on generated good/total streams."""

from __future__ import annotations

import numpy as np
import pytest

from tests.alert.conftest import Rig
from watchkeeper.alert.rule_files import parse_rule_file
from watchkeeper.alert.rules import RuleValidationError
from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.query import Engine
from watchkeeper.slo.service import slo_status
from watchkeeper.slo.spec import compile_slo, parse_slo

STEP = 60
PER_STEP = 1000
SLO = {
    "name": "checkout",
    "objective": 99.9,
    "window": "30d",
    "good": 'requests_total{code!~"5.."}',
    "total": "requests_total",
}


def stream(rig: Rig, error_share: list[float]) -> tuple[int, int]:
    """Requests per minute ending at the clock's time: 1000 a minute, `error_share[i]` of
    minute i failing (code 500). Counters start at 0. Returns (total, errors) counted."""
    n = len(error_share)
    end = rig.clock.time()
    stamps = np.array([round((end - (n - 1 - i) * STEP) * 1000) for i in range(n)], np.int64)
    errors = np.concatenate([[0.0], np.cumsum(np.array(error_share[1:]) * PER_STEP)])
    total = np.arange(n, dtype=np.float64) * PER_STEP
    rig.store.append(
        rig.tenant,
        [
            SeriesSamples(
                labels_from_dict({"__name__": "requests_total", "code": "200"}),
                stamps,
                total - errors,
            ),
            SeriesSamples(
                labels_from_dict({"__name__": "requests_total", "code": "500"}), stamps, errors
            ),
        ],
    )
    return int(total[-1]), int(errors[-1])


def firing(rig: Rig) -> set[str]:
    return {a.rule_name for a in rig.alerts() if a.state == "firing"}


def recorded(rig: Rig, name: str) -> float:
    (series,) = rig.store.select(
        rig.tenant,
        [Matcher("__name__", MatchOp.EQUAL, name), Matcher("slo", MatchOp.EQUAL, "checkout")],
        0,
        2**62,
    )
    return float(series.values[-1])


def test_an_error_burst_fires_the_fast_burn_page_and_not_the_slow_alerts(rig: Rig) -> None:
    group = compile_slo(parse_slo(SLO), default_interval=60)
    day = [0.0] * (26 * 60)
    total, errors = stream(rig, [*day[:-10], *[0.10] * 10])  # 10 % failing for 10 minutes
    rig.evaluate(group)
    assert firing(rig) == {"ErrorBudgetBurn1h"}
    page = next(a for a in rig.alerts() if a.rule_name == "ErrorBudgetBurn1h")
    assert page.labels["severity"] == "page"
    assert page.labels["slo"] == "checkout"
    # The budget over 30 days: 0.1 % of the requests seen may fail.
    spent = (errors / total) / 0.001
    assert recorded(rig, "slo:error_budget_remaining:ratio") == pytest.approx(1 - spent)
    assert recorded(rig, "slo:objective:ratio") == 0.999
    assert recorded(rig, "slo:burn_rate:ratio_rate5m") == pytest.approx(100.0, rel=0.05)


def test_a_steady_slow_burn_opens_a_ticket_and_does_not_page(rig: Rig) -> None:
    group = compile_slo(parse_slo(SLO), default_interval=60)
    stream(rig, [0.002] * (3 * 24 * 60 + 60))  # twice the budget rate, for three days
    rig.evaluate(group)
    assert firing(rig) == {"ErrorBudgetBurn3d"}


def test_status_computes_sli_budget_and_burn_rates_from_good_and_total(rig: Rig) -> None:
    spec = parse_slo(SLO)
    total, errors = stream(rig, [0.0] * 600 + [0.05] * 60)
    engine = Engine(rig.store, clock=rig.clock)
    (status,) = slo_status(engine, rig.tenant, spec, at_ms=round(rig.clock.time() * 1000))
    assert status.sli == pytest.approx(1 - errors / total)
    assert status.error_budget_remaining == pytest.approx(1 - errors / total / 0.001)
    assert status.burn_rates["5m"] == pytest.approx(50.0, rel=0.05)


def test_latency_slo_counts_requests_under_the_threshold_bucket(rig: Rig) -> None:
    spec = parse_slo(
        {
            "name": "fast",
            "objective": 99,
            "latency": {"histogram": 'lat_bucket{job="api"}', "threshold": 0.3},
        }
    )
    end = rig.clock.time()
    stamps = np.array([round((end - 600 + i * 60) * 1000) for i in range(11)], np.int64)
    count = np.arange(11, dtype=np.float64) * 100
    rig.store.append(
        rig.tenant,
        [
            SeriesSamples(
                labels_from_dict({"__name__": "lat_bucket", "job": "api", "le": le}),
                stamps,
                count * share,
            )
            for le, share in (("0.1", 0.5), ("0.3", 0.9), ("+Inf", 1.0))
        ],
    )
    engine = Engine(rig.store, clock=rig.clock)
    (status,) = slo_status(engine, rig.tenant, spec, at_ms=round(end * 1000))
    assert status.sli == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"objective": 100}, "objective"),
        ({"objective": "high"}, "objective"),
        ({"good": "sum(rate(x[5m])"}, "good"),
        ({"total": "sum(x)"}, "total"),
        ({"window": "1h"}, "window"),
        ({"labels": {"slo": "other"}}, "labels"),
        ({"latency": {"histogram": "h", "threshold": 1}}, "(root)"),
    ],
)
def test_bad_slos_are_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(RuleValidationError) as caught:
        parse_slo({**SLO, **change})
    assert any(p.location == field for p in caught.value.problems), caught.value.problems


def test_rule_files_may_list_slos_next_to_groups() -> None:
    text = """
groups:
  - name: plain
    rules: [{record: x, expr: '1'}]
slos:
  - name: checkout
    tenant: shop
    objective: 99.9
    good: 'requests_total{code!~"5.."}'
    total: requests_total
"""
    groups = parse_rule_file(text, "slos.yaml", default_interval=60)
    assert [(g.tenant, g.group.name) for g in groups] == [
        ("default", "plain"),
        ("shop", "slo:checkout"),
    ]
    with pytest.raises(RuleValidationError) as caught:
        parse_rule_file(
            "slos: [{name: x, objective: 120, good: a, total: b}]", "f.yaml", default_interval=60
        )
    assert [p.location for p in caught.value.problems] == ["f.yaml: slos[0] > objective"]
