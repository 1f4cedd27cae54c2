"""The tenant-scoped session: the one place tenancy is enforced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from watchkeeper.config import load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.db.tables import ApiKey
from watchkeeper.tenancy import service
from watchkeeper.tenancy.scope import SessionFactory, TenancyViolation

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def sessions(database_url: str) -> SessionFactory:
    engine = build_engine(load_settings(), url=database_url)
    migrate.upgrade(engine)
    return SessionFactory(engine)


def _key(name: str, prefix: str) -> ApiKey:
    return ApiKey(name=name, prefix=prefix, secret_hash="0" * 64, scopes=["read"], created_at=NOW)


def test_queries_see_only_the_sessions_tenant(sessions: SessionFactory) -> None:
    with sessions.system("test") as db:
        a = service.create_tenant(db, name="a", now=NOW).id
        b = service.create_tenant(db, name="b", now=NOW).id
    with sessions.tenant(a) as db:
        db.add(_key("a-key", "aaaaaaaa"))
    with sessions.tenant(b) as db:
        db.add(_key("b-key", "bbbbbbbb"))
    with sessions.tenant(a) as db:
        assert [k.name for k in db.scalars(select(ApiKey))] == ["a-key"]
        # Even asking for b's row by primary key finds nothing.
        b_id = None
    with sessions.system("test") as db:
        b_id = db.scalar(select(ApiKey.id).where(ApiKey.name == "b-key"))
    with sessions.tenant(a) as db:
        assert db.scalar(select(ApiKey).where(ApiKey.id == b_id)) is None
    with sessions.system("test") as db:
        assert len(list(db.scalars(select(ApiKey)))) == 2


def test_new_rows_are_stamped_and_foreign_rows_refused(sessions: SessionFactory) -> None:
    with sessions.system("test") as db:
        a = service.create_tenant(db, name="a", now=NOW).id
        b = service.create_tenant(db, name="b", now=NOW).id
    with sessions.tenant(a) as db:
        row = _key("k", "cccccccc")
        db.add(row)
        db.flush()
        assert row.tenant_id == a
    with pytest.raises(TenancyViolation), sessions.tenant(a) as db:
        foreign = _key("x", "dddddddd")
        foreign.tenant_id = b
        db.add(foreign)


def test_unscoped_sessions_cannot_touch_tenant_data(sessions: SessionFactory) -> None:
    from sqlalchemy.orm import Session

    with Session(sessions.engine) as db, pytest.raises(TenancyViolation):
        db.scalars(select(ApiKey)).all()
