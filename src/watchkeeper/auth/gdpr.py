"""A person's data: export it (GDPR art. 15/20) and erase it (art. 17).

Users are global, so both work across tenants and take a system session.

Erasure keeps what the other tenants' members and auditors legitimately rely on, under a
pseudonym (`erased-<16 hex>`, derived from the user id so it is stable and says nothing of
the person): the account row (disabled, no email, no usable password), memberships, incident
comments and timeline lines, category corrections, silences' `createdBy` and assignments (by
user id; the id stays, only the name it shows changes). The audit
trail is pseudonymised in place without breaking its chain: see `watchkeeper.audit` (rows keep
their hash, lose their salt, and get an HMAC seal over the rewritten content). Sessions and
the API keys the person created are revoked.

Not erased here (fields that other work adds): 2FA secrets and recovery codes, and a token
version on the user; they must be cleared by `erase_user` once they exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from watchkeeper.audit import AuditLog
from watchkeeper.db.tables import (
    ApiKey,
    AuditRecord,
    CategoryCorrection,
    Incident,
    IncidentEvent,
    Membership,
    RecoveryCode,
    RefreshToken,
    SilenceRow,
    Tenant,
    User,
    UserTotp,
)
from watchkeeper.domain.times import iso_or_none
from watchkeeper.tenancy.service import ConflictError, find_by_id_or_name

UNUSABLE_PASSWORD = "!erased"  # not an Argon2 hash: no password verifies against it


def find_user(db: Session, user_id_or_name: str) -> User:
    return find_by_id_or_name(db, User, (User.id, User.username), user_id_or_name, "user")


def pseudonym_for(user_id: str) -> str:
    return f"erased-{hashlib.sha256(user_id.encode()).hexdigest()[:16]}"


def export_user(db: Session, user_id_or_name: str) -> dict[str, Any]:
    """Everything Watchkeeper keeps about one person, as JSON-ready data (no secrets:
    password and key hashes are left out)."""
    user = find_user(db, user_id_or_name)
    names = [n for n in (user.username, user.email) if n]
    tenants = dict(db.execute(select(Tenant.id, Tenant.name)).tuples().all())
    memberships = db.scalars(select(Membership).where(Membership.user_id == user.id))
    audit = db.scalars(
        select(AuditRecord)
        .where(
            or_(
                AuditRecord.actor_id == user.id,
                AuditRecord.actor_name.in_(names),
                AuditRecord.path.contains(user.id),
            )
        )
        .order_by(AuditRecord.id)
    )
    events = db.scalars(
        select(IncidentEvent).where(IncidentEvent.actor.in_(names)).order_by(IncidentEvent.id)
    )
    assigned = db.scalars(select(Incident).where(Incident.assignee == user.id))
    keys = db.scalars(select(ApiKey).where(ApiKey.created_by == user.id))
    sessions = db.scalars(
        select(RefreshToken)
        .where(RefreshToken.user_id == user.id)
        .order_by(RefreshToken.created_at)
    )
    corrections = db.scalars(select(CategoryCorrection).where(CategoryCorrection.actor.in_(names)))
    silences = db.scalars(select(SilenceRow).where(SilenceRow.created_by.in_(names)))
    timeline = [
        {
            "tenant": tenants.get(e.tenant_id),
            "incident_id": e.incident_id,
            "at": iso_or_none(e.at),
            "kind": e.kind,
            "message": e.message,
        }
        for e in events
    ]
    return {
        "account": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "is_superadmin": user.is_superadmin,
            "disabled": user.disabled,
            "password_change_required": user.password_change_required,
            "created_at": iso_or_none(user.created_at),
        },
        "memberships": [
            {
                "tenant": tenants.get(m.tenant_id),
                "role": m.role,
                "created_at": iso_or_none(m.created_at),
            }
            for m in memberships
        ],
        "audit": [
            {
                "id": r.id,
                "tenant": tenants.get(r.tenant_id) if r.tenant_id else None,
                "at": iso_or_none(r.at),
                "actor_type": r.actor_type,
                "actor_name": r.actor_name,
                "by_them": r.actor_id == user.id or r.actor_name in names,
                "action": r.action,
                "path": r.path,
                "status_code": r.status_code,
                "outcome": r.outcome,
                "request_id": r.request_id,
                "client_ip": r.client_ip,
                "details": r.details,
            }
            for r in audit
        ],
        "comments": [line for line in timeline if line["kind"] == "comment"],
        "incident_activity": [line for line in timeline if line["kind"] != "comment"],
        "category_corrections": [
            {"tenant": tenants.get(c.tenant_id), "at": iso_or_none(c.at), "category": c.category}
            for c in corrections
        ],
        "silences": [
            {
                "tenant": tenants.get(r.tenant_id),
                "id": r.id,
                "comment": r.comment,
                "starts_at": iso_or_none(r.starts_at),
                "ends_at": iso_or_none(r.ends_at),
            }
            for r in silences
        ],
        "assignments": [
            {
                "tenant": tenants.get(i.tenant_id),
                "incident_id": i.id,
                "number": i.number,
                "title": i.title,
                "status": i.status,
            }
            for i in assigned
        ],
        "api_keys": [
            {
                "id": k.id,
                "tenant": tenants.get(k.tenant_id),
                "name": k.name,
                "prefix": k.prefix,
                "scopes": list(k.scopes),
                "created_at": iso_or_none(k.created_at),
                "expires_at": iso_or_none(k.expires_at),
                "revoked_at": iso_or_none(k.revoked_at),
                "last_used_at": iso_or_none(k.last_used_at),
            }
            for k in keys
        ],
        "sessions": [
            {
                "id": s.family_id,
                "tenant": tenants.get(s.tenant_id),
                "created_at": iso_or_none(s.created_at),
                "expires_at": iso_or_none(s.expires_at),
                "used_at": iso_or_none(s.used_at),
                "revoked_at": iso_or_none(s.revoked_at),
            }
            for s in sessions
        ],
    }


@dataclass(frozen=True)
class Erasure:
    user_id: str
    pseudonym: str
    audit_records: int
    incident_lines: int
    sessions_revoked: list[str]
    api_keys_revoked: int


def erase_user(
    db: Session, audit: AuditLog, user_id_or_name: str, *, now: datetime, by: str | None = None
) -> Erasure:
    """Replace the person by a pseudonym everywhere, in `db`'s transaction. `by` is the id of
    the user asking (they may not erase themselves: another superadmin must)."""
    user = find_user(db, user_id_or_name)
    if by is not None and by == user.id:
        raise ConflictError("you cannot erase your own account; another superadmin must")
    if user.username.startswith("erased-") and user.email is None and user.disabled:
        raise ConflictError(f"user {user.id} is already erased")
    names = {n for n in (user.username, user.email) if n}
    pseudonym = pseudonym_for(user.id)
    families = sorted(
        set(
            db.scalars(
                select(RefreshToken.family_id).where(
                    RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
                )
            )
        )
    )
    db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    keys = db.execute(
        update(ApiKey)
        .where(ApiKey.created_by == user.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    lines = 0
    for event in db.scalars(select(IncidentEvent).where(IncidentEvent.actor.in_(names))):
        event.actor = pseudonym
        for name in names:
            event.message = event.message.replace(name, pseudonym)
        lines += 1
    for correction in db.scalars(
        select(CategoryCorrection).where(CategoryCorrection.actor.in_(names))
    ):
        correction.actor = pseudonym
    for silence in db.scalars(select(SilenceRow).where(SilenceRow.created_by.in_(names))):
        silence.created_by = pseudonym
    user.username = pseudonym
    user.email = None
    user.password_hash = UNUSABLE_PASSWORD
    user.password_change_required = False
    user.is_superadmin = False
    user.disabled = True
    user.token_version = (user.token_version or 0) + 1  # every token issued before ends
    # The second factor is personal data too: its secret and recovery codes go.
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.execute(delete(UserTotp).where(UserTotp.user_id == user.id))
    records = audit.pseudonymise(db, user_id=user.id, names=names, pseudonym=pseudonym)
    return Erasure(
        user_id=user.id,
        pseudonym=pseudonym,
        audit_records=records,
        incident_lines=lines,
        sessions_revoked=families,
        api_keys_revoked=int(getattr(keys, "rowcount", 0) or 0),
    )
