"""Housekeeping: drop refresh tokens that can no longer be used."""

from __future__ import annotations

from datetime import timedelta

import anyio
from sqlalchemy import delete

from watchkeeper.clock import Clock
from watchkeeper.db.tables import RefreshToken
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory


class TokenCleanup(PeriodicWorker):
    """Deletes refresh tokens a day after they expired (kept a day for reuse detection)."""

    name = "token_cleanup"
    placement = Placement.RUN_ONCE

    def __init__(self, clock: Clock, sessions: SessionFactory, interval: float = 3600.0) -> None:
        super().__init__(clock, interval)
        self.sessions = sessions
        self.deleted = 0

    def purge(self) -> int:
        cutoff = self.clock.now() - timedelta(days=1)
        with self.sessions.system("token cleanup") as db:
            result = db.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)

    async def tick(self) -> None:
        self.deleted += await anyio.to_thread.run_sync(self.purge)
