"""The metadata backup on both databases: SQLite (online backup API) and PostgreSQL
(pg_dump --format=custom, restored with pg_restore into the configured database)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import Env
from tests.support import ADMIN_PASSWORD
from watchkeeper.backup.manifest import read_manifest
from watchkeeper.backup.restore import restore_backup, verify_backup
from watchkeeper.db.engine import normalise_url


def test_metadata_backup_restores_the_rows_as_of_the_backup(
    env: Env, root: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    def add(name: str) -> None:
        response = env.client.post(
            "/api/v1/users",
            headers=root,
            json={"username": name, "password": ADMIN_PASSWORD, "role": "viewer"},
        )
        assert response.status_code == 201, response.text

    add("before")
    response = env.client.post("/admin/backup", headers=root, json={})
    assert response.status_code == 200, response.text
    folder = Path(response.json()["folder"])
    manifest = read_manifest(folder)
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert manifest.metadata["backend"] == backend
    assert manifest.schema_revision
    add("after")
    verify_backup(folder)

    env.client.portal.call(env.context.supervisor.stop)  # type: ignore[union-attr]
    target = tmp_path / "restored"
    restore_backup(folder, target, database_url=database_url)
    url = f"sqlite:///{target / 'watchkeeper.db'}" if backend == "sqlite" else database_url
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as db:
            names = {row[0] for row in db.execute(text("SELECT username FROM users"))}
    finally:
        engine.dispose()
    assert "before" in names and "after" not in names and "admin" in names
