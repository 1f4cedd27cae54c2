"""The Alembic migrations build exactly the schema the ORM models describe, on both databases."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine

from watchkeeper.db import migrate
from watchkeeper.db.tables import Base


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    """Several processes upgrading one fresh PostgreSQL schema at once: one migrates under the
    advisory lock, the others wait and find it current (without the lock, CREATE TABLE races)."""
    if not database_url.startswith("postgresql"):
        return  # one SQLite file is not shared by replicas
    engines = [create_engine(database_url) for _ in range(4)]
    errors: list[BaseException] = []

    def upgrade(engine: Engine) -> None:
        try:
            migrate.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert errors == []
        assert migrate.current_revision(engines[0]) == migrate.head_revision()
    finally:
        for engine in engines:
            engine.dispose()
