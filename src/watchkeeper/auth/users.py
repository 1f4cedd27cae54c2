"""Users (global accounts) and their membership (role) in the current tenant.

Functions take a tenant-scoped session: `Membership` rows are filtered to that tenant by
the session itself, so a user outside the tenant is simply not found.

Two kinds of change, two owners:
- **membership** (add to / remove from this tenant, role in it) belongs to the tenant's admin;
- **account** (password, disabled, email, super-admin flag) is global: it belongs to the user
  and to a super-admin. A tenant admin may change an account only when it is exclusive to
  their tenant (no membership elsewhere, not a super-admin), because then the change reaches
  no other tenant (`update_member`).

A change that must end the user's sessions bumps `User.token_version` (`end_sessions`): every
access and refresh token carries the version it was issued under and is refused once it
differs (auth/service.py). The caller tells the AuthService (`forget_user`) so this process
stops honouring cached state at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from watchkeeper.auth import passwords
from watchkeeper.auth.rbac import Role
from watchkeeper.db.tables import Membership, RefreshToken, User
from watchkeeper.tenancy.scope import SessionFactory, tenant_of
from watchkeeper.tenancy.service import ConflictError, NotFoundError

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

# One refusal for every name that cannot become a new account. It is the same whether the
# account is in this tenant, in another, disabled or a super-admin, and it says nothing about
# the account; that the name is taken is the one thing a global username cannot hide.
NAME_TAKEN = (
    "username {name!r} is not available; an existing account is added to a tenant by the "
    "operator (`watchkeeper user add`), not over the API"
)


class AccountChangeRefused(Exception):
    """The caller may not make this change to a global account; the message says why."""


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
    join_existing: bool = False,
) -> tuple[User, Membership]:
    """Create an account and make it a member of the session's tenant with `role`.

    An existing username is refused with `NAME_TAKEN` (chosen over invitations: one neutral
    message, nothing about the account disclosed and nothing of it changed), unless
    `join_existing` — the operator's path (CLI) — which adds the existing account's membership
    and leaves the account itself (password, email, flags) untouched.
    """
    if not USERNAME_RE.match(username):
        raise ValueError(f"username {username!r} must be 1-64 letters, digits or . _ @ -")
    Role(role)
    # Hashed before the lookup, so a taken name answers no faster than a free one.
    password_hash = passwords.hash_password(password)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(
            username=username,
            email=email,
            password_hash=password_hash,
            is_superadmin=superadmin,
            password_change_required=password_change_required,
            created_at=now,
        )
        db.add(user)
        db.flush()
    elif not join_existing:
        raise ConflictError(NAME_TAKEN.format(name=username))
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


@dataclass(frozen=True)
class AccountChange:
    """Changes to the global account; None leaves a field as it is."""

    disabled: bool | None = None
    email: str | None = None
    password: str | None = None
    superadmin: bool | None = None

    def any(self) -> bool:
        return any(
            v is not None for v in (self.disabled, self.email, self.password, self.superadmin)
        )


def update_member(
    db: Session,
    user_id: str,
    *,
    role: str | None = None,
    account: AccountChange | None = None,
    actor_superadmin: bool = False,
    sessions: SessionFactory | None = None,
) -> tuple[User, Membership]:
    """Change a member's role here and, if allowed, their account.

    A role change takes effect on the member's next request without logging them out (each
    request reads the role afresh). An account change needs a super-admin caller, or an
    account exclusive to this tenant (`sessions` is used to look at the other tenants, read
    only); the super-admin flag only a super-admin may change. Disabling, a password reset and
    a demotion from super-admin end every session of the user.
    """
    user, membership = get_member(db, user_id)
    if account is not None and account.any():
        _authorise_account_change(db, user, account, actor_superadmin, sessions)
        _apply(user, account)
    if role is not None:
        membership.role = Role(role).value
    return user, membership


def _authorise_account_change(
    db: Session,
    user: User,
    account: AccountChange,
    actor_superadmin: bool,
    sessions: SessionFactory | None,
) -> None:
    if actor_superadmin:
        return
    if account.superadmin is not None:
        raise AccountChangeRefused("only a super-admin can grant or remove super-admin")
    if user.is_superadmin or sessions is None or _shared(sessions, user.id, tenant_of(db)):
        raise AccountChangeRefused(
            "this account is not exclusive to this tenant: only a super-admin can change its "
            "password, email or disabled state; you can change its role here or remove it"
        )


def _shared(sessions: SessionFactory, user_id: str, tenant_id: str | None) -> bool:
    """Whether the user belongs to a tenant other than `tenant_id` (a cross-tenant read)."""
    with sessions.system("is the account exclusive to the tenant changing it") as db:
        others = db.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.user_id == user_id, Membership.tenant_id != tenant_id)
        )
    return bool(others)


def _apply(user: User, account: AccountChange) -> None:
    ends_sessions = False
    if account.email is not None:
        user.email = account.email or None
    if account.password is not None:
        user.password_hash = passwords.hash_password(account.password)
        # Someone else chose it: the user picks their own at the next login.
        user.password_change_required = True
        ends_sessions = True
    if account.disabled is not None:
        ends_sessions |= account.disabled and not user.disabled
        user.disabled = account.disabled
    if account.superadmin is not None:
        ends_sessions |= user.is_superadmin and not account.superadmin
        user.is_superadmin = account.superadmin
    if ends_sessions:
        end_sessions(user)


def end_sessions(user: User) -> None:
    """Bump the session generation: every access and refresh token issued before is refused."""
    user.token_version = (user.token_version or 0) + 1


def remove_member(db: Session, user_id: str, *, now: datetime) -> User:
    """Remove the member from this tenant and revoke their refresh tokens here; their access
    tokens for this tenant fail the membership check on the next request."""
    user, membership = get_member(db, user_id)
    db.delete(membership)
    db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return user


def set_password(
    db: Session, user_id_or_name: str, password: str, *, must_change: bool = False
) -> User:
    """Reset a member's password (the operator's path); ends all of the user's sessions."""
    user, _ = get_member(db, user_id_or_name)
    user.password_hash = passwords.hash_password(password)
    user.password_change_required = must_change
    end_sessions(user)
    return user


def set_disabled(db: Session, username: str, disabled: bool) -> User:
    """Enable or disable an account everywhere (the operator's path; a system session).
    Disabling ends every session of the user."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"user {username!r} not found")
    if disabled and not user.disabled:
        end_sessions(user)
    user.disabled = disabled
    return user
