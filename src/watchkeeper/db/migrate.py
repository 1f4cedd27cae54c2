"""Schema migrations with Alembic, run programmatically (`watchkeeper db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


MIGRATION_LOCK = 0x5741_544B  # "WATK": the advisory lock replicas migrate under


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations; on PostgreSQL under a transaction-scoped advisory lock, so replicas
    starting together migrate once (the others wait, then find the schema current)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg = _config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the tables (a developer command)."""
    with engine.begin() as connection:
        cfg = _config()
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
