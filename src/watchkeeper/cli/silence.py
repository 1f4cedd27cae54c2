"""`watchkeeper silence add|list|expire`: silences straight in the database, per tenant."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from watchkeeper.alert import silence_store
from watchkeeper.alert.matchers import format_matchers, parse_matchers
from watchkeeper.alert.model import ConfigError, parse_duration
from watchkeeper.alert.mute import SilenceError, SilenceState
from watchkeeper.cli.common import CliError, ConfigOption, open_db, tenant_session
from watchkeeper.cli.directory import TenantOption
from watchkeeper.domain.times import rfc3339, utc

silence_app = typer.Typer(
    help="Silences: mute alerts matching some labels for a while.", no_args_is_help=True
)


@silence_app.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help='e.g. alertname="DiskFull" host=~"db-.*"')],
    comment: Annotated[str, typer.Option("--comment", "-m", help="why (required)")],
    duration: Annotated[str, typer.Option(help="how long, e.g. 2h, 30m, 1d")] = "1h",
    author: Annotated[str | None, typer.Option(help="default: the OS user")] = None,
    tenant: TenantOption = "default",
    config: ConfigOption = None,
) -> None:
    """Create a silence starting now; prints its id."""
    parsed = [m for text in matchers for m in parse_matchers(text)]
    try:
        seconds = parse_duration("--duration", duration)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    with open_db(config) as db, tenant_session(db, tenant, "cli silence add") as (_, session):
        now = db.clock.time()
        spec = silence_store.SilenceSpec(
            tuple(parsed), now, now + seconds, author or getpass.getuser(), comment
        )
        try:
            silence = silence_store.create_or_update(session, spec, now=now)
        except SilenceError as exc:
            raise CliError(f"invalid silence: {exc}") from None
    typer.echo(silence.id)


@silence_app.command("list")
def silence_list(
    state: Annotated[
        SilenceState | None, typer.Option(help="only this state (default: all, history too)")
    ] = None,
    tenant: TenantOption = "default",
    config: ConfigOption = None,
) -> None:
    """List silences: id, state, matchers, start, end, author, comment."""
    with open_db(config) as db, tenant_session(db, tenant, "cli silence list") as (_, session):
        now = db.clock.time()
        found = silence_store.select_silences(session, now=now, state=state)
    for s in found:
        typer.echo(
            "\t".join(
                [
                    s.id,
                    s.state_at(now).value,
                    format_matchers(s.matchers),
                    rfc3339(utc(s.starts_at), "seconds"),
                    rfc3339(utc(s.ends_at), "seconds"),
                    s.created_by,
                    s.comment,
                ]
            )
        )


@silence_app.command("expire")
def silence_expire(
    silence_id: str, tenant: TenantOption = "default", config: ConfigOption = None
) -> None:
    """End a silence now (it stays listed as expired)."""
    with open_db(config) as db, tenant_session(db, tenant, "cli silence expire") as (_, session):
        try:
            silence_store.expire(session, silence_id, now=db.clock.time())
        except SilenceError as exc:
            raise CliError(str(exc)) from None
    typer.echo(f"expired {silence_id}")
