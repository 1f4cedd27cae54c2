"""Dashboards defined once as Grafana dashboard JSON (built with Grafana's SDK), served to
Grafana and to the web console, plus each tenant's own dashboards.

- `BUILTIN`: the built-in Main, AI and Operational dashboards (`main.py`, `ai.py`,
  `operational.py`), built from the panel kinds in `panels.py`.
- `model.py`: the JSON model: serialise, parse back through the SDK, validate and bound.
- `service.py`: list/get/create/replace/delete over a tenant-scoped session.
- `provisioning.py`: Grafana provisioning files and the push through Grafana's HTTP API.
- `variables.py`: expanding `$job`, `$instance`, `$__rate_interval` as Grafana does.
"""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders.dashboard import Dashboard

from watchkeeper.dashboards import ai, main, operational

BUILTIN: dict[str, Callable[[], Dashboard]] = {
    main.UID: main.build,
    ai.UID: ai.build,
    operational.UID: operational.build,
}
"""uid -> builder of each built-in dashboard, in the order they are listed."""
