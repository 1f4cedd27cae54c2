"""The evaluator writes Prometheus' ALERTS and ALERTS_FOR_STATE series, and ends them."""

from __future__ import annotations

from tests.alert.conftest import Rig
from watchkeeper.query import Engine, VectorResult

GROUP = "{name: g, rules: [{alert: Hot, expr: 'temp > 50', for: 30s, labels: {sev: page}}]}"


def _instant(rig: Rig, query: str) -> dict[str, float]:
    result = Engine(rig.store, clock=rig.clock).instant_query(
        rig.tenant, query, round(rig.clock.time() * 1000)
    )
    assert isinstance(result, VectorResult)
    return {dict(s.labels).get("alertstate", ""): s.value for s in result.samples}


def test_pending_then_firing_alert_is_in_alerts_and_for_state_until_resolved(rig: Rig) -> None:
    rig.put("temp", 60, room="a")
    rig.evaluate(GROUP)
    active_at = rig.clock.time()
    assert _instant(rig, 'ALERTS{alertname="Hot", room="a", sev="page"}') == {"pending": 1.0}

    rig.step(GROUP, 30, "temp", 61, room="a")
    assert _instant(rig, 'ALERTS{alertname="Hot"}') == {"firing": 1.0}
    assert _instant(rig, 'ALERTS_FOR_STATE{alertname="Hot"}') == {"": active_at}

    rig.step(GROUP, 30, "temp", 10, room="a")
    assert rig.alert("Hot").state == "resolved"
    assert _instant(rig, "ALERTS") == {}
    assert _instant(rig, "ALERTS_FOR_STATE") == {}
