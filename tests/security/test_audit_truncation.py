"""`audit verify` notices records deleted from the end of the trail, or all of them.

The chain alone is intact after its newest rows are deleted; the signed head checkpoint, kept
in the database and in a file in the data folder, is what says records are missing.
"""

from __future__ import annotations

import os
import stat

from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from tests.conftest import Env
from watchkeeper.audit import AuditEntry
from watchkeeper.cli.main import app as cli
from watchkeeper.db.tables import AuditRecord


def _append(env: Env, n: int) -> None:
    audit = env.context.audit
    for i in range(n):
        audit.record(
            AuditEntry(
                at=env.clock.now(),
                tenant_id=None,
                actor_type="user",
                actor_id="u1",
                actor_name="admin",
                action="POST /api/v1/things",
                method="POST",
                path="/api/v1/things",
                status_code=201,
                request_id=f"req-{i}",
            )
        )


def _last_ids(env: Env, n: int) -> list[int]:
    with env.context.sessions.system("test") as db:
        ids = db.scalars(select(AuditRecord.id).order_by(AuditRecord.id.desc()).limit(n))
        return sorted(ids)


def _delete(env: Env, *conditions: object) -> None:
    with env.context.sessions.system("test tamper") as db:
        db.execute(delete(AuditRecord).where(*conditions))  # type: ignore[arg-type]


def _verify_cli(env: Env) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--config", str(env.config_file)])
    # CliError reaches the runner as the exception (`main()` turns it into exit status 1).
    return result.exit_code, f"{result.stdout}{result.exception or ''}"


def test_an_untouched_trail_verifies(env: Env) -> None:
    _append(env, 5)
    intact, count, bad = env.context.audit.verify_chain()
    assert intact and count >= 5 and bad is None
    assert _verify_cli(env)[0] == 0


def test_deleting_the_newest_50_records_is_reported_with_the_missing_ids(env: Env) -> None:
    _append(env, 60)
    newest = _last_ids(env, 50)
    _delete(env, AuditRecord.id >= newest[0])

    intact, _, _ = env.context.audit.verify_chain()
    code, output = _verify_cli(env)

    assert not intact
    assert code == 1
    assert f"{newest[0]}..{newest[-1]}" in output and "truncated" in output


def test_deleting_every_record_is_reported(env: Env) -> None:
    _append(env, 3)
    _delete(env, AuditRecord.id > 0)

    intact, count, _ = env.context.audit.verify_chain()

    assert not intact and count == 0


def test_deleting_records_and_the_database_checkpoint_is_caught_by_the_file(env: Env) -> None:
    from watchkeeper.db.tables import AuditCheckpoint

    _append(env, 10)
    newest = _last_ids(env, 4)
    with env.context.sessions.system("test tamper") as db:
        db.execute(delete(AuditRecord).where(AuditRecord.id >= newest[0]))
        db.execute(delete(AuditCheckpoint))

    intact, _, _ = env.context.audit.verify_chain()

    assert not intact


def test_replaying_an_older_signed_checkpoint_is_caught_by_the_file(env: Env) -> None:
    from watchkeeper.db.tables import AuditCheckpoint

    _append(env, 5)
    with env.context.sessions.system("test copy") as db:
        old = db.get(AuditCheckpoint, "head")
        assert old is not None
        saved = (old.last_id, old.last_hash, old.count, old.signature)
    _append(env, 5)
    with env.context.sessions.system("test rollback") as db:
        db.execute(delete(AuditRecord).where(AuditRecord.id > saved[0]))
        db.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.name == "head")
            .values(last_id=saved[0], last_hash=saved[1], count=saved[2], signature=saved[3])
        )

    report = env.context.audit.verify()

    assert not report.intact
    assert any("file checkpoint" in problem for problem in report.problems)


def test_a_checkpoint_rewritten_without_the_key_is_rejected(env: Env) -> None:
    from watchkeeper.db.tables import AuditCheckpoint

    _append(env, 6)
    newest = _last_ids(env, 3)
    _delete(env, AuditRecord.id >= newest[0])
    with env.context.sessions.system("test forge") as db:
        db.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.name == "head")
            .values(last_id=newest[0] - 1, count=AuditCheckpoint.count - 3)
        )
    (env.data_dir / "audit-checkpoint.json").unlink()

    report = env.context.audit.verify()

    assert not report.intact
    assert any("not validly signed" in problem for problem in report.problems)


def test_the_checkpoint_file_is_readable_by_its_owner_only(env: Env) -> None:
    _append(env, 1)
    mode = stat.S_IMODE(os.stat(env.data_dir / "audit-checkpoint.json").st_mode)
    assert mode == 0o600


def test_the_api_reports_the_truncation(env: Env) -> None:
    root = env.login()
    _append(env, 5)
    newest = _last_ids(env, 2)
    _delete(env, AuditRecord.id >= newest[0])

    body = env.client.get("/admin/audit/verify", headers=root).json()

    assert body["intact"] is False and body["missing"] == newest


def test_a_rollback_stays_visible_after_later_appends(env: Env) -> None:
    from watchkeeper.db.tables import AuditCheckpoint

    _append(env, 3)
    with env.context.sessions.system("test copy") as db:
        old = db.get(AuditCheckpoint, "head")
        assert old is not None
        saved = {
            "last_id": old.last_id,
            "last_hash": old.last_hash,
            "count": old.count,
            "signature": old.signature,
        }
    _append(env, 3)
    with env.context.sessions.system("test rollback") as db:
        db.execute(delete(AuditRecord).where(AuditRecord.id > saved["last_id"]))
        db.execute(update(AuditCheckpoint).where(AuditCheckpoint.name == "head").values(**saved))
    _append(env, 5)  # the service goes on appending after the rollback

    report = env.context.audit.verify()

    assert not report.intact
    assert any("file checkpoint" in problem for problem in report.problems)
