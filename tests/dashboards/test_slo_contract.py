"""The built-in dashboards read the SLO series that an SLO's generated rule group records.

The panels test seeds no SLO (its SLO panels must be empty); this one ties the two features
together by name, so a rename on either side fails here instead of leaving panels blank.
"""

from __future__ import annotations

import re

from watchkeeper.dashboards import BUILTIN, model
from watchkeeper.dashboards.service import builtin_model
from watchkeeper.slo.spec import SloSpec, slo_group_spec

SLO_NAME = re.compile(r"\bslo:[a-z_]+:[a-z_0-9]+")


def test_every_slo_series_a_dashboard_reads_is_recorded_by_an_slo() -> None:
    spec = SloSpec(name="checkout", objective=99.9, good="sum(rate(ok[5m]))", total="1")
    recorded = {rule.record for rule in slo_group_spec(spec).rules if rule.record}
    read = {
        name
        for uid in BUILTIN
        for _, expr in model.expressions(builtin_model(uid))
        for name in SLO_NAME.findall(expr)
    }
    assert read, "the Operational dashboard has SLO panels"
    assert read <= recorded, read - recorded
