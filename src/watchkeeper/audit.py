"""The audit trail: one record per state-changing request, chained and signed.

Each record's `hash` is an HMAC-SHA256 (keyed from the JWT secret) over its content and the
previous record's hash, so editing, deleting or inserting a row breaks the chain at that
point; `verify_chain` says where.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from watchkeeper.db.tables import AuditRecord
from watchkeeper.observability.metrics import AUDIT_RECORDS
from watchkeeper.tenancy.scope import SessionFactory

GENESIS = "0" * 64


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


def _digest(key: bytes, prev_hash: str, record: AuditRecord) -> str:
    body = json.dumps(
        [
            prev_hash,
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
        ],
        sort_keys=True,
        default=str,
    )
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


class AuditLog:
    def __init__(self, sessions: SessionFactory, signing_secret: str) -> None:
        self.sessions = sessions
        self._key = hmac.new(signing_secret.encode(), b"watchkeeper-audit", hashlib.sha256).digest()
        self._lock = threading.Lock()

    def record(self, entry: AuditEntry) -> None:
        with self._lock, self.sessions.system("audit") as db:
            if db.bind is not None and db.bind.dialect.name == "postgresql":
                # Replicas append to one chain: serialise them on an advisory lock.
                db.execute(text("SELECT pg_advisory_xact_lock(7205913)"))
            prev = db.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
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
                prev_hash=prev or GENESIS,
            )
            row.hash = _digest(self._key, row.prev_hash, row)
            db.add(row)
        AUDIT_RECORDS.labels(entry.outcome).inc()

    def verify_chain(self) -> tuple[bool, int, int | None]:
        """(intact, records checked, id of the first bad record)."""
        with self.sessions.system("audit verify") as db:
            prev = GENESIS
            count = 0
            for row in db.scalars(select(AuditRecord).order_by(AuditRecord.id)):
                count += 1
                if row.prev_hash != prev or not hmac.compare_digest(
                    row.hash, _digest(self._key, prev, row)
                ):
                    return False, count, row.id
                prev = row.hash
        return True, count, None


def list_records(
    db: Session, tenant_id: str, *, limit: int = 100, before_id: int | None = None
) -> list[AuditRecord]:
    """A tenant's audit records, newest first. The audit table is read by explicit tenant."""
    query = select(AuditRecord).where(AuditRecord.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return list(db.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)))
