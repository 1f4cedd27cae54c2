"""Who may do what: the one table of roles and API-key scopes to permissions.

Routes declare the permission they need (`Depends(require("rules:write"))`); nothing else
in the code compares role names.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


class Scope(StrEnum):
    """What an API key may be used for."""

    INGEST = "ingest"
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


READ_PERMISSIONS = frozenset(
    {
        "system:read",
        "metrics:read",
        "rules:read",
        "alerts:read",
        "silences:read",
        "alerting:read",
        "incidents:read",
        "anomalies:read",
        "dashboards:read",
        "tenant:read",
        "receivers:read",
        "notifications:read",
        "events:read",
        "templates:read",
        "oncall:read",
        "slos:read",
    }
)

WRITE_PERMISSIONS = frozenset(
    {
        "metrics:write",
        "rules:write",
        "alerts:write",
        "silences:write",
        "alerting:write",
        "incidents:write",
        "anomalies:train",
        "anomalies:feedback",
        "dashboards:write",
        "receivers:write",
        "notifications:write",
        "templates:write",
        "oncall:write",
        "slos:write",
    }
)

ADMIN_PERMISSIONS = frozenset(
    {
        "users:read",
        "users:write",
        "apikeys:read",
        "apikeys:write",
        "audit:read",
        "channels:write",
        "retention:read",
        "retention:write",
    }
)

# Global permissions: they change every tenant (the process configuration, the tenant list).
SUPERADMIN_PERMISSIONS = frozenset(
    {"config:read", "config:write", "tenants:write", "tenants:read", "users:export", "users:erase"}
)

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: READ_PERMISSIONS,
    Role.EDITOR: READ_PERMISSIONS | WRITE_PERMISSIONS,
    Role.ADMIN: READ_PERMISSIONS | WRITE_PERMISSIONS | ADMIN_PERMISSIONS,
}

SCOPE_PERMISSIONS: dict[Scope, frozenset[str]] = {
    # Machines that push: metrics (remote_write, JSON) and alerts (a Prometheus or Alertmanager
    # in front of us), nothing that reads or configures.
    Scope.INGEST: frozenset({"metrics:write", "alerts:write", "system:read"}),
    Scope.READ: READ_PERMISSIONS,
    Scope.WRITE: READ_PERMISSIONS | WRITE_PERMISSIONS,
    Scope.ADMIN: READ_PERMISSIONS | WRITE_PERMISSIONS | ADMIN_PERMISSIONS,
}

ALL_PERMISSIONS = READ_PERMISSIONS | WRITE_PERMISSIONS | ADMIN_PERMISSIONS | SUPERADMIN_PERMISSIONS


def permissions_for_role(role: str, *, superadmin: bool = False) -> frozenset[str]:
    granted = ROLE_PERMISSIONS[Role(role)]
    return granted | SUPERADMIN_PERMISSIONS if superadmin else granted


def permissions_for_scopes(scopes: list[str]) -> frozenset[str]:
    granted: frozenset[str] = frozenset()
    for scope in scopes:
        granted |= SCOPE_PERMISSIONS[Scope(scope)]
    return granted


def parse_scopes(text: str | list[str]) -> list[str]:
    """Validate scopes given as `ingest,read` or a list; raises ValueError naming the bad one."""
    items = text.split(",") if isinstance(text, str) else text
    scopes = sorted({s.strip() for s in items if s.strip()})
    if not scopes:
        raise ValueError("at least one scope is required")
    valid = {s.value for s in Scope}
    for scope in scopes:
        if scope not in valid:
            raise ValueError(f"unknown scope {scope!r}; valid scopes: {', '.join(sorted(valid))}")
    return scopes
