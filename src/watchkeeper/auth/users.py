"""Users and their membership (role) in the current tenant.

Functions take a tenant-scoped session: `Membership` rows are filtered to that tenant by
the session itself, so a user outside the tenant is simply not found.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.auth import passwords
from watchkeeper.auth.rbac import Role
from watchkeeper.db.tables import Membership, User
from watchkeeper.tenancy.service import ConflictError, NotFoundError

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def add_user(
    db: Session,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    email: str | None = None,
    superadmin: bool = False,
    password_change_required: bool = False,
) -> tuple[User, Membership]:
    """Create a user in the session's tenant, or add an existing user to it with `role`."""
    if not USERNAME_RE.match(username):
        raise ValueError(f"username {username!r} must be 1-64 letters, digits or . _ @ -")
    Role(role)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(
            username=username,
            email=email,
            password_hash=passwords.hash_password(password),
            is_superadmin=superadmin,
            password_change_required=password_change_required,
            created_at=now,
        )
        db.add(user)
        db.flush()
    elif db.scalar(select(Membership).where(Membership.user_id == user.id)) is not None:
        raise ConflictError(f"user {username!r} is already a member of this tenant")
    membership = Membership(user_id=user.id, role=role, created_at=now)
    db.add(membership)
    db.flush()
    return user, membership


def list_members(db: Session) -> list[tuple[User, Membership]]:
    rows = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.username)
    ).all()
    return [(row[0], row[1]) for row in rows]


def get_member(db: Session, user_id_or_name: str) -> tuple[User, Membership]:
    row = db.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where((User.id == user_id_or_name) | (User.username == user_id_or_name))
    ).first()
    if row is None:
        raise NotFoundError(f"user {user_id_or_name!r} not found")
    return row[0], row[1]


def update_member(
    db: Session, user_id: str, *, role: str | None = None, disabled: bool | None = None
) -> tuple[User, Membership]:
    user, membership = get_member(db, user_id)
    if role is not None:
        membership.role = Role(role).value
    if disabled is not None:
        user.disabled = disabled
    return user, membership


def remove_member(db: Session, user_id: str) -> None:
    _, membership = get_member(db, user_id)
    db.delete(membership)


def set_password(
    db: Session, user_id_or_name: str, password: str, *, must_change: bool = False
) -> User:
    user, _ = get_member(db, user_id_or_name)
    user.password_hash = passwords.hash_password(password)
    user.password_change_required = must_change
    return user
