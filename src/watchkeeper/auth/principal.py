"""The authenticated caller of a request: a user acting in one tenant, or an API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "apikey"]
    id: str
    name: str
    tenant_id: str
    permissions: frozenset[str]
    role: str | None = None
    scopes: tuple[str, ...] = ()
    superadmin: bool = False
    session_id: str | None = None
    restriction: str | None = None
    """Set while the user may only change their password or enrol in 2FA (auth/restrictions.py)."""
    # The user's session generation the credential was issued under (users only).
    token_version: int = 0

    def can(self, permission: str) -> bool:
        return permission in self.permissions
