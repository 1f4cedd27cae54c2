"""An app that has shut down is freed: a process that builds many apps (the test suite, a
server reloading its settings) must not keep each one's stores, sessions and workers."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support import ADMIN_PASSWORD
from watchkeeper.app_context import AppContext
from watchkeeper.clock import ManualClock


def test_closed_apps_leave_no_context_alive(tmp_path: Path, clock: ManualClock) -> None:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise

    contexts: list[weakref.ref[AppContext]] = []
    for number in range(3):
        root = tmp_path / str(number)
        result = initialise(
            root / "data",
            clock=clock,
            admin_password=ADMIN_PASSWORD,
            database_url=f"sqlite:///{root / 'meta.db'}",
        )
        app = create_app(result.settings, clock=clock, config_file=result.config_file)
        with TestClient(app) as client:
            assert client.get("/docs").status_code == 200
            contexts.append(weakref.ref(client.app.state.context))  # type: ignore[attr-defined]
        del app, client
    gc.collect()
    assert [ref for ref in contexts if ref() is not None] == []
