"""The audit trail: one record per state-changing request, chained, signed and checkpointed.

Each record's `hash` is an HMAC-SHA256 (keyed from the JWT secret) over its content, a random
per-row `salt` and the previous record's hash, so editing, deleting or inserting a row breaks
the chain at that point; `verify` says where.

A chain alone cannot show that its newest rows were deleted (or all of them: an empty chain is
intact). So every append also writes a signed **head checkpoint** (last id, last hash, number
of records ever appended) to table `audit_checkpoints`, in the same transaction, and to a file
in the data folder (`audit-checkpoint.json`, mode 0600) outside the database. `verify`
compares the chain's end with both and reports the missing ids (truncation) or a head that is
not the checkpointed one (rollback).

Two legitimate operations rewrite rows without breaking the chain:
- **Pseudonymisation** (GDPR erasure, `pseudonymise`) replaces a person's name, address and
  the strings naming them in `details`. The row keeps its `hash` (so the next row's link still
  holds), its `salt` is erased (so not even the key holder can confirm a guess of the original
  content against the hash), and a `seal` (HMAC over id, both hashes and the new content)
  vouches for the rewritten content. Rows written before migration 0012 have no salt: for
  them a key holder could still test a guessed original name against the kept hash.
- **Retention** (`prune`) turns expired rows into sealed tombstones (content cleared), then
  deletes tombstones from the oldest end of the chain and moves a signed **anchor** (id, hash
  and count of the newest deleted row) that `verify` starts from instead of the genesis.

What an attacker with write access to the database but without the key can still do: delete
the newest rows *and* replace the head checkpoint row with an older signed one they copied
earlier (or restore a whole older backup). The database alone cannot tell; the checkpoint file
can, as long as the attacker cannot also write the data folder. Deleting the checkpoint row
is reported until the next append re-creates it (then only the file tells). A missing file is a
warning (a new data folder or another replica's host), a file ahead of the chain an error.
The file never moves backwards, and once the database no longer holds the record it names
(a rollback) it is not overwritten any more, so later appends do not erase the evidence.
Everything rests on the key: whoever holds `jwt_secret_key` can rewrite the trail.

Why one module of ~550 lines: append, verify, pseudonymise and prune read and write the same
chain, key and checkpoints, and the argument above holds only for the four together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from watchkeeper.db.tables import AuditCheckpoint, AuditRecord
from watchkeeper.observability.metrics import AUDIT_RECORDS
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

GENESIS = "0" * 64
HEAD = "head"
ANCHOR = "anchor"
PRUNED = "audit.pruned"
CHECKPOINT_FILE = "audit-checkpoint.json"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    tenant_id: str | None
    actor_type: str
    actor_id: str | None
    actor_name: str | None
    action: str
    method: str
    path: str
    status_code: int
    request_id: str
    client_ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        if self.status_code < 400:
            return "success"
        if self.status_code in (401, 403):
            return "denied"
        return "failure"


@dataclass(frozen=True)
class Checkpoint:
    """A signed chain position: the newest record appended (head) or pruned (anchor)."""

    name: str
    last_id: int
    last_hash: str
    count: int

    def body(self) -> bytes:
        return json.dumps([self.name, self.last_id, self.last_hash, self.count]).encode()


@dataclass
class VerifyReport:
    """What `verify` found; `problems` empty means intact."""

    checked: int = 0
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: tuple[int, int] | None = None  # (first, last) id range missing at the end
    head_id: int | None = None  # the database head checkpoint's record, as read

    @property
    def intact(self) -> bool:
        return not self.problems


def _content(record: AuditRecord) -> list[Any]:
    return [
        record.tenant_id,
        record.at.astimezone(UTC).isoformat(),
        record.actor_type,
        record.actor_id,
        record.actor_name,
        record.action,
        record.method,
        record.path,
        record.status_code,
        record.outcome,
        record.request_id,
        record.client_ip,
        record.details,
    ]


def _digest(key: bytes, prev_hash: str, record: AuditRecord) -> str:
    parts: list[Any] = [prev_hash, *_content(record)]
    if record.salt is not None:  # rows from before migration 0012 have none
        parts.append(record.salt)
    body = json.dumps(parts, sort_keys=True, default=str)
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _seal(key: bytes, record: AuditRecord) -> str:
    body = json.dumps(
        ["sealed", record.id, record.prev_hash, record.hash, *_content(record)],
        sort_keys=True,
        default=str,
    )
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _replace_strings(value: Any, names: set[str], pseudonym: str) -> Any:
    if isinstance(value, str):
        return pseudonym if value in names else value
    if isinstance(value, dict):
        return {k: _replace_strings(v, names, pseudonym) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, names, pseudonym) for v in value]
    return value


class AuditLog:
    def __init__(
        self,
        sessions: SessionFactory,
        signing_secret: str,
        *,
        checkpoint_file: Path | None = None,
    ) -> None:
        self.sessions = sessions
        self._key = hmac.new(signing_secret.encode(), b"watchkeeper-audit", hashlib.sha256).digest()
        self._checkpoint_key = hmac.new(
            signing_secret.encode(), b"watchkeeper-audit-checkpoint", hashlib.sha256
        ).digest()
        self.checkpoint_file = checkpoint_file
        self._lock = threading.Lock()

    # -- appending -----------------------------------------------------------------------

    def record(self, entry: AuditEntry) -> None:
        """Append one entry now, on the calling thread (the CLI; requests go through
        `audit_writer.AuditWriter`)."""
        self.append([entry])

    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append `entries` in one transaction with one head checkpoint (and one file write)."""
        if not entries:
            return
        with self._lock:
            problems = VerifyReport()
            current = self._read_file(problems)
            with self.sessions.system("audit") as db:
                self._serialise(db)
                head = self._append(db, entries)
                off_chain = current is not None and not self._on_chain(db, current)
            if problems.problems or off_chain:
                # Overwriting would erase the evidence of a rollback (or a damaged file):
                # keep the file for `verify` and the operator.
                log.error(
                    "audit_checkpoint_file_kept",
                    path=str(self.checkpoint_file),
                    problems=problems.problems or ["the database was rolled back past it"],
                )
            elif current is None or current.count < head.count:
                self._write_file(head)  # else another process here wrote a newer head
        for entry in entries:
            AUDIT_RECORDS.labels(entry.outcome).inc()

    def _on_chain(self, db: Session, checkpoint: Checkpoint) -> bool:
        """Whether the database still holds the record `checkpoint` names (or pruned it)."""
        row_hash = db.scalar(select(AuditRecord.hash).where(AuditRecord.id == checkpoint.last_id))
        if row_hash is not None:
            return hmac.compare_digest(row_hash, checkpoint.last_hash)
        anchor = db.get(AuditCheckpoint, ANCHOR)
        return anchor is not None and checkpoint.last_id <= anchor.last_id

    def _serialise(self, db: Session) -> None:
        if db.bind is not None and db.bind.dialect.name == "postgresql":
            # Replicas append to one chain: serialise them on an advisory lock.
            db.execute(text("SELECT pg_advisory_xact_lock(7205913)"))

    def _append(self, db: Session, entries: Sequence[AuditEntry]) -> Checkpoint:
        prev = db.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
        stored = db.get(AuditCheckpoint, HEAD)
        if stored is not None:
            count = stored.count
        else:
            # First append after migration 0012 (or the row was deleted: say so loudly).
            anchor = db.get(AuditCheckpoint, ANCHOR)
            count = int(db.scalar(select(func.count(AuditRecord.id))) or 0)
            count += anchor.count if anchor is not None else 0
            if count:
                log.warning("audit_head_checkpoint_missing", records=count)
        prev = prev or GENESIS
        row = None
        for entry in entries:
            row = AuditRecord(
                tenant_id=entry.tenant_id,
                at=entry.at,
                actor_type=entry.actor_type,
                actor_id=entry.actor_id,
                actor_name=entry.actor_name,
                action=entry.action,
                method=entry.method,
                path=entry.path,
                status_code=entry.status_code,
                outcome=entry.outcome,
                request_id=entry.request_id,
                client_ip=entry.client_ip,
                details=entry.details or None,
                prev_hash=prev,
                salt=secrets.token_hex(16),
            )
            row.hash = prev = _digest(self._key, row.prev_hash, row)
            db.add(row)
        db.flush()
        assert row is not None
        head = Checkpoint(HEAD, row.id, row.hash, count + len(entries))
        self._store(db, head, entries[-1].at)
        return head

    # -- checkpoints ---------------------------------------------------------------------

    def _sign(self, checkpoint: Checkpoint) -> str:
        return hmac.new(self._checkpoint_key, checkpoint.body(), hashlib.sha256).hexdigest()

    def _store(self, db: Session, checkpoint: Checkpoint, at: datetime) -> None:
        row = db.get(AuditCheckpoint, checkpoint.name)
        if row is None:
            row = AuditCheckpoint(name=checkpoint.name)
            db.add(row)
        row.last_id = checkpoint.last_id
        row.last_hash = checkpoint.last_hash
        row.count = checkpoint.count
        row.at = at
        row.signature = self._sign(checkpoint)

    def _loaded(self, db: Session, name: str, report: VerifyReport) -> Checkpoint | None:
        row = db.get(AuditCheckpoint, name)
        if row is None:
            return None
        checkpoint = Checkpoint(name, row.last_id, row.last_hash, row.count)
        if not hmac.compare_digest(row.signature, self._sign(checkpoint)):
            report.problems.append(f"the {name} checkpoint in the database is not validly signed")
            return None
        return checkpoint

    def _write_file(self, head: Checkpoint) -> None:
        """The head checkpoint outside the database, replaced atomically, readable by us only."""
        if self.checkpoint_file is None:
            return
        body = {
            "last_id": head.last_id,
            "last_hash": head.last_hash,
            "count": head.count,
            "signature": self._sign(head),
        }
        partial = self.checkpoint_file.with_name(
            f".{self.checkpoint_file.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        )
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(body, out)
            os.chmod(partial, 0o600)
            os.replace(partial, self.checkpoint_file)
        except OSError as exc:
            log.error(
                "audit_checkpoint_file_failed", path=str(self.checkpoint_file), error=str(exc)
            )

    def _read_file(self, report: VerifyReport) -> Checkpoint | None:
        if self.checkpoint_file is None:
            return None
        try:
            raw = json.loads(self.checkpoint_file.read_text())
            checkpoint = Checkpoint(
                HEAD, int(raw["last_id"]), str(raw["last_hash"]), int(raw["count"])
            )
            signature = str(raw["signature"])
        except FileNotFoundError:
            report.warnings.append(
                f"no checkpoint file {self.checkpoint_file}: only the database's checkpoint "
                "was compared (a rollback of rows and checkpoint together goes unseen)"
            )
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"checkpoint file {self.checkpoint_file} unreadable: {exc}")
            return None
        if not hmac.compare_digest(signature, self._sign(checkpoint)):
            report.problems.append(f"checkpoint file {self.checkpoint_file} is not validly signed")
            return None
        return checkpoint

    # -- verifying -----------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Walk the chain from the prune anchor (or the genesis) and compare its end with the
        head checkpoints in the database and in the file.

        On SQLite each statement reads its own snapshot, so an append between reading the
        checkpoint and the rows can look like tampering: a failed pass during which the head
        checkpoint moved is run again (a real truncation fails every pass)."""
        report = self._verify_once()
        for _ in range(3):
            if report.intact or self._head_id() == report.head_id:
                break
            report = self._verify_once()
        return report

    def _head_id(self) -> int | None:
        with self.sessions.system("audit verify") as db:
            return db.scalar(select(AuditCheckpoint.last_id).where(AuditCheckpoint.name == HEAD))

    def _verify_once(self) -> VerifyReport:
        report = VerifyReport()
        # The file first: it is written after each commit, so read before the database
        # snapshot it can only be behind it, never ahead (which would look like truncation).
        file_checkpoint = self._read_file(report)
        with self.sessions.system("audit verify") as db:
            if db.bind is not None and db.bind.dialect.name == "postgresql":
                # One snapshot for the checkpoints and every row, despite concurrent appends.
                db.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            anchor = self._loaded(db, ANCHOR, report)
            head = self._loaded(db, HEAD, report)
            stored_head = db.get(AuditCheckpoint, HEAD)
            has_head_row = stored_head is not None
            report.head_id = stored_head.last_id if stored_head is not None else None
            prev = anchor.last_hash if anchor else GENESIS
            floor = anchor.last_id if anchor else 0
            seen: dict[int, str] = {}
            wanted = {c.last_id for c in (head, file_checkpoint) if c is not None}
            last_id = floor
            for row in db.scalars(select(AuditRecord).order_by(AuditRecord.id)):
                report.checked += 1
                ok = row.id > floor and row.prev_hash == prev
                if ok and row.seal is not None:
                    ok = hmac.compare_digest(row.seal, _seal(self._key, row))
                elif ok:
                    ok = hmac.compare_digest(row.hash, _digest(self._key, prev, row))
                if not ok:
                    report.first_bad = row.id
                    report.problems.append(f"audit chain broken at record {row.id}")
                    return report
                if row.id in wanted:
                    seen[row.id] = row.hash
                prev, last_id = row.hash, row.id
        pruned = anchor.count if anchor else 0
        if head is None:
            if report.checked and not has_head_row:
                report.problems.append(
                    f"the head checkpoint is missing from the database ({report.checked} "
                    "records present): it may have been deleted along with the newest records"
                )
        else:
            self._compare(report, head, "database", last_id, prev, seen, pruned, floor)
        if file_checkpoint is not None:
            self._compare(report, file_checkpoint, "file", last_id, prev, seen, pruned, floor)
        return report

    def _compare(
        self,
        report: VerifyReport,
        checkpoint: Checkpoint,
        where: str,
        last_id: int,
        last_hash: str,
        seen: dict[int, str],
        pruned: int,
        floor: int,
    ) -> None:
        present = report.checked
        if checkpoint.last_id > last_id:
            missing = checkpoint.count - pruned - present
            report.missing = (last_id + 1, checkpoint.last_id)
            report.problems.append(
                f"audit log truncated: the {where} checkpoint's head is record "
                f"{checkpoint.last_id} but the chain ends at {last_id or 'nothing'}; "
                f"records {last_id + 1}..{checkpoint.last_id} are missing "
                f"({missing} record{'s' if missing != 1 else ''})"
            )
            return
        if checkpoint.last_id == last_id:
            if checkpoint.last_hash != last_hash:
                report.problems.append(
                    f"audit log rolled back: record {last_id} is not the one the {where} "
                    "checkpoint signed"
                )
            elif checkpoint.count - pruned != present:
                report.problems.append(
                    f"audit log has {present} records but the {where} checkpoint counts "
                    f"{checkpoint.count - pruned}"
                )
            return
        # The chain goes on past the checkpoint: fine for the file (written after commit,
        # possibly by another replica); the database's is updated with every append.
        if where == "database":
            report.problems.append(
                f"records after {checkpoint.last_id} were not appended by Watchkeeper "
                "(the database checkpoint does not cover them)"
            )
        elif checkpoint.last_id > floor and seen.get(checkpoint.last_id) != checkpoint.last_hash:
            state = "is missing" if checkpoint.last_id not in seen else "was replaced"
            report.problems.append(
                f"audit log rolled back: record {checkpoint.last_id} of the {where} "
                f"checkpoint {state}"
            )

    def verify_chain(self) -> tuple[bool, int, int | None]:
        """(intact, records checked, id of the first bad record)."""
        report = self.verify()
        return report.intact, report.checked, report.first_bad

    # -- legitimate rewrites -------------------------------------------------------------

    def _reseal(self, row: AuditRecord) -> None:
        row.salt = None
        row.seal = _seal(self._key, row)

    def pseudonymise(
        self, db: Session, *, user_id: str, names: Iterable[str], pseudonym: str
    ) -> int:
        """Replace a person in the trail by `pseudonym`: rows they acted in (by id, or by a
        name in `names`, e.g. failed logins) lose their name and address; any string equal to
        one of `names` in any row's details is replaced. Returns the rows rewritten."""
        wanted = {n for n in names if n}
        self._serialise(db)  # no prune deletes a row while it is being rewritten
        query = select(AuditRecord).where(
            (AuditRecord.actor_id == user_id) | AuditRecord.actor_name.in_(wanted)
        )
        rows = {row.id: row for row in db.scalars(query)}
        for row in db.scalars(select(AuditRecord).where(AuditRecord.details.is_not(None))):
            if row.id not in rows and _replace_strings(row.details, wanted, pseudonym) != (
                row.details
            ):
                rows[row.id] = row
        for row in rows.values():
            if row.actor_id == user_id or row.actor_name in wanted:
                row.actor_name = pseudonym
                row.client_ip = None
            if row.details:
                row.details = _replace_strings(row.details, wanted, pseudonym)
            self._reseal(row)
        return len(rows)

    def prune(
        self,
        cutoffs: dict[str, datetime],
        *,
        default: datetime,
        now: datetime,
        batch: int = 1000,
    ) -> tuple[int, int]:
        """Tombstone each tenant's records older than its cutoff (`default` for records of no
        tenant or of a tenant since deleted), then delete tombstones from the oldest end of the
        chain, moving the anchor. Returns (records tombstoned, records deleted); at most
        `batch` rows per step."""
        sealed = 0
        others = AuditRecord.tenant_id.is_(None) | AuditRecord.tenant_id.not_in(list(cutoffs))
        scopes = [(AuditRecord.tenant_id == t, cutoff) for t, cutoff in cutoffs.items()]
        scopes.append((others, default))
        with self._lock, self.sessions.system("audit retention") as db:
            self._serialise(db)
            for owner, cutoff in scopes:
                expired = db.scalars(
                    select(AuditRecord)
                    .where(owner, AuditRecord.at < cutoff, AuditRecord.action != PRUNED)
                    .order_by(AuditRecord.id)
                    .limit(batch)
                )
                for row in expired:
                    sealed += 1
                    row.action, row.method, row.path, row.request_id = PRUNED, "", "", ""
                    row.actor_id = row.actor_name = row.client_ip = None
                    row.details = None
                    self._reseal(row)
            db.flush()
            oldest = list(
                db.execute(
                    select(AuditRecord.id, AuditRecord.hash, AuditRecord.action)
                    .order_by(AuditRecord.id)
                    .limit(batch)
                )
            )
            prefix = []
            for row_id, row_hash, action in oldest:
                if action != PRUNED:
                    break
                prefix.append((row_id, row_hash))
            if not prefix:
                return sealed, 0
            last_id, last_hash = prefix[-1]
            stored = db.get(AuditCheckpoint, ANCHOR)
            anchor = Checkpoint(
                ANCHOR, last_id, last_hash, (stored.count if stored else 0) + len(prefix)
            )
            db.execute(delete(AuditRecord).where(AuditRecord.id <= last_id))
            self._store(db, anchor, now)
            return sealed, len(prefix)


def list_records(
    db: Session, tenant_id: str, *, limit: int = 100, before_id: int | None = None
) -> list[AuditRecord]:
    """A tenant's audit records, newest first (pruned tombstones left out). The audit table
    is read by explicit tenant."""
    query = select(AuditRecord).where(
        AuditRecord.tenant_id == tenant_id, AuditRecord.action != PRUNED
    )
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list(db.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)))
