"""Engines for SQLite (default, WAL) and PostgreSQL, from the Settings' DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from watchkeeper.config import Settings


def normalise_url(url: str) -> str:
    """Let users write `postgresql://...` and get the psycopg 3 driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; synchronous=FULL makes every commit durable,
    # which acknowledged writes (users, rules, outbox rows) need.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _no_auto_checkpoint(dbapi_connection: Any, _record: Any) -> None:
    # With WAL shipping the shipper checkpoints, after it shipped the frames (backup/walship.py).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def auto_checkpoint_off(engine: Engine) -> bool:
    """Whether this engine's connections leave checkpoints to the WAL shipper: set when the
    engine is built, so turning shipping on at run time waits for a restart."""
    return event.contains(engine, "connect", _no_auto_checkpoint)


def build_engine(settings: Settings, *, url: str | None = None) -> Engine:
    raw = url or settings.effective_database_url
    target = normalise_url(raw)
    if target.startswith("sqlite"):
        path = make_url(target).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(target, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        if settings.backup.wal_shipping:
            event.listen(engine, "connect", _no_auto_checkpoint)
        return engine
    return create_engine(
        target,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
