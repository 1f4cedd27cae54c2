"""`watchkeeper tenant|user|apikey ...`: manage who may use Watchkeeper."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from watchkeeper.auth import apikeys, users
from watchkeeper.auth.rbac import Role
from watchkeeper.cli.common import ConfigOption, open_db, tenant_session
from watchkeeper.tenancy import service

tenant_app = typer.Typer(
    help="Tenants: isolated spaces of users, keys, metrics and alerts.", no_args_is_help=True
)
user_app = typer.Typer(help="Users and their role in a tenant.", no_args_is_help=True)
apikey_app = typer.Typer(
    help="API keys for machines (Prometheus remote_write, Grafana, scripts).", no_args_is_help=True
)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="tenant name")]


@tenant_app.command("add")
def tenant_add(
    name: str,
    display_name: Annotated[str, typer.Option(help="human-readable name")] = "",
    config: ConfigOption = None,
) -> None:
    """Create a tenant."""
    with open_db(config) as db, db.sessions.system("cli tenant add") as session:
        tenant = service.create_tenant(
            session, name=name, display_name=display_name, now=db.clock.now()
        )
        typer.echo(f"created tenant {tenant.name} (id {tenant.id})")


@tenant_app.command("list")
def tenant_list(config: ConfigOption = None) -> None:
    """List tenants."""
    with open_db(config) as db, db.sessions.system("cli tenant list") as session:
        for tenant in service.list_tenants(session):
            typer.echo(f"{tenant.name}\t{tenant.id}\t{'disabled' if tenant.disabled else 'active'}")


def _password(value: str | None, confirm: bool = True) -> str:
    if value:
        return value
    first = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != first:
        raise ValueError("passwords differ")
    return first


@user_app.command("add")
def user_add(
    username: str,
    tenant: TenantOption = "default",
    role: Annotated[Role, typer.Option(help="role in the tenant")] = Role.VIEWER,
    password: Annotated[
        str | None, typer.Option(envvar="WATCHKEEPER_USER_PASSWORD", help="prompted when absent")
    ] = None,
    email: Annotated[str | None, typer.Option()] = None,
    config: ConfigOption = None,
) -> None:
    """Create a user (or add an existing one) in a tenant with a role.

    An existing account keeps its password and everything else; only the membership is added.
    """
    with open_db(config) as db, tenant_session(db, tenant, "cli user add") as (tenant_row, session):
        user, membership = users.add_user(
            session,
            username=username,
            password=_password(password),
            role=role.value,
            email=email,
            now=db.clock.now(),
            join_existing=True,
        )
        typer.echo(f"user {user.username} is {membership.role} of tenant {tenant_row.name}")


@user_app.command("list")
def user_list(tenant: TenantOption = "default", config: ConfigOption = None) -> None:
    """List a tenant's users."""
    with open_db(config) as db, tenant_session(db, tenant, "cli user list") as (_, session):
        for user, membership in users.list_members(session):
            flags = " disabled" if user.disabled else ""
            typer.echo(f"{user.username}\t{membership.role}{flags}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    tenant: TenantOption = "default",
    password: Annotated[
        str | None, typer.Option(envvar="WATCHKEEPER_USER_PASSWORD", help="prompted when absent")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Set a user's password; every session of the user ends."""
    with open_db(config) as db, tenant_session(db, tenant, "cli user passwd") as (_, session):
        users.set_password(session, username, _password(password))
        typer.echo(f"password of {username} changed")


@user_app.command("enable")
def user_enable(username: str, config: ConfigOption = None) -> None:
    """Re-enable a disabled account (in every tenant it belongs to)."""
    with open_db(config) as db, db.sessions.system("cli user enable") as session:
        users.set_disabled(session, username, False)
        typer.echo(f"user {username} is enabled")


@user_app.command("disable")
def user_disable(username: str, config: ConfigOption = None) -> None:
    """Disable an account everywhere and end its sessions (a running server notices within
    two seconds)."""
    with open_db(config) as db, db.sessions.system("cli user disable") as session:
        users.set_disabled(session, username, True)
        typer.echo(f"user {username} is disabled")


@apikey_app.command("create")
def apikey_create(
    tenant: TenantOption = "default",
    scope: Annotated[
        str, typer.Option(help="comma-separated: ingest, read, write, admin")
    ] = "ingest,read",
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Create an API key; the key is printed alone on the last line, once."""
    with (
        open_db(config) as db,
        tenant_session(db, tenant, "cli apikey create") as (tenant_row, session),
    ):
        row, key = apikeys.create_api_key(session, name=name, scopes=scope, now=db.clock.now())
    typer.echo(
        f"API key {row.id} for tenant {tenant_row.name}, scopes {','.join(row.scopes)} (shown once):"
    )
    typer.echo(key)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str, tenant: TenantOption = "default", config: ConfigOption = None
) -> None:
    """Revoke an API key by id or prefix."""
    with open_db(config) as db, tenant_session(db, tenant, "cli apikey revoke") as (_, session):
        row = apikeys.revoke_api_key(session, key_id, now=db.clock.now())
        typer.echo(f"revoked API key {row.id} ({row.name})")


@apikey_app.command("list")
def apikey_list(tenant: TenantOption = "default", config: ConfigOption = None) -> None:
    """List a tenant's API keys (never the keys themselves)."""
    with open_db(config) as db, tenant_session(db, tenant, "cli apikey list") as (_, session):
        for row in apikeys.list_api_keys(session):
            state = "revoked" if row.revoked_at else "active"
            typer.echo(f"{row.id}\twk_{row.prefix}_…\t{row.name}\t{','.join(row.scopes)}\t{state}")
