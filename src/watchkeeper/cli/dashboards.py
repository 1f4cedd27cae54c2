"""`watchkeeper dashboards export`: Grafana provisioning files, and an optional push."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import anyio
import typer

from watchkeeper.cli.common import CliError, ConfigOption, open_db, settings_from
from watchkeeper.config import Settings
from watchkeeper.dashboards import BUILTIN, provisioning, service
from watchkeeper.notify.outbound import OutboundPolicy
from watchkeeper.tenancy import service as tenancy

dashboards_app = typer.Typer(help="Dashboards for Grafana and the console.", no_args_is_help=True)


def _server_url(settings: Settings) -> str:
    if settings.server.public_url:
        return settings.server.public_url
    host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


def _tenant_dashboards(config: Path | None, tenant: str) -> dict[str, dict[str, Any]]:
    with open_db(config) as db:
        with db.sessions.system("cli dashboards export: find tenant") as session:
            tenant_id = tenancy.find_tenant(session, tenant).id
        with db.sessions.tenant(tenant_id) as session:
            return {
                d.uid: service.get_dashboard(session, d.uid)
                for d in service.list_dashboards(session)
                if not d.builtin
            }


@dashboards_app.command("export")
def export(
    grafana_provisioning: Annotated[
        Path, typer.Option("--grafana-provisioning", help="Grafana's provisioning directory")
    ],
    url: Annotated[
        str | None,
        typer.Option(help="Watchkeeper's URL as Grafana reaches it (default: server.public_url)"),
    ] = None,
    api_key_env: Annotated[
        str, typer.Option(help="environment variable that holds the API key, in Grafana")
    ] = "WATCHKEEPER_API_KEY",
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="also export this tenant's dashboards")
    ] = None,
    push: Annotated[
        str | None, typer.Option("--push", help="also push them to this Grafana URL")
    ] = None,
    grafana_token: Annotated[
        str | None,
        typer.Option(envvar="GRAFANA_TOKEN", help="Grafana service-account token for --push"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write the data source and dashboard provisioning files (and push with --push)."""
    settings, _ = settings_from(config)
    models = {uid: service.builtin_model(uid) for uid in BUILTIN}
    if tenant:
        models.update(_tenant_dashboards(config, tenant))
    written = provisioning.write_provisioning(
        grafana_provisioning, models, url=url or _server_url(settings), api_key_env=api_key_env
    )
    for path in written:
        typer.echo(f"wrote {path}")
    if push is None:
        return
    if not grafana_token:
        raise CliError("--push needs --grafana-token (or GRAFANA_TOKEN)")
    policy = OutboundPolicy.from_settings(settings.security)
    try:
        pushed = anyio.run(_push, push, grafana_token, models, policy)
    except provisioning.PushError as exc:
        raise CliError(str(exc)) from None
    for item in pushed:
        typer.echo(f"pushed {item.uid}: {item.status} {item.url or ''}".rstrip())


async def _push(
    url: str, token: str, models: dict[str, dict[str, Any]], policy: OutboundPolicy
) -> list[provisioning.Pushed]:
    return await provisioning.push(url, token, models, policy=policy)
