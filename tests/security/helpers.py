"""Shared helpers of the security tests: live settings changes, clients at other addresses."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Env
from watchkeeper.config import apply_patch
from watchkeeper.db.tables import AuditRecord


def configure(env: Env, patch: dict[str, Any]) -> None:
    """What `PUT /admin/config` does to the running app, without persisting or reloading workers."""
    settings = apply_patch(env.context.settings, patch)
    env.context.settings = settings
    env.context.auth.reconfigure(settings)


def client_at(env: Env, address: str) -> TestClient:
    """A client whose TCP peer address is `address` (same app, already started)."""
    return TestClient(env.client.app, client=(address, 40000))


def audited_client_ips(env: Env, action: str, expected: int, timeout: float = 10.0) -> list[str]:
    """The client_ip of each audit record of `action`, waiting until `expected` are written
    (a real server writes the audit record after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        with env.context.sessions.system("test") as db:
            rows = list(
                db.scalars(
                    select(AuditRecord.client_ip)
                    .where(AuditRecord.action == action)
                    .order_by(AuditRecord.id)
                )
            )
        if len(rows) >= expected or time.monotonic() > deadline:
            return [str(r) for r in rows]
        time.sleep(0.02)
