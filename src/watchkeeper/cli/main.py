"""`watchkeeper`: serve, init, doctor, config, db, user, tenant, apikey, audit, bench."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from watchkeeper.auth.passwords import WeakPasswordError
from watchkeeper.auth.service import AuthError
from watchkeeper.cli import common
from watchkeeper.cli.backup import backup_app
from watchkeeper.cli.common import CliError, ConfigOption
from watchkeeper.cli.dashboards import dashboards_app
from watchkeeper.cli.demo import demo
from watchkeeper.cli.deploy import deploy
from watchkeeper.cli.directory import apikey_app, tenant_app, user_app
from watchkeeper.cli.privacy import user_erase, user_export
from watchkeeper.cli.silence import silence_app
from watchkeeper.config import ConfigError, load_settings
from watchkeeper.tenancy.service import ConflictError, NotFoundError

app = typer.Typer(
    help="Watchkeeper: self-hosted monitoring and AIOps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="The metadata database.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
user_app.command("export")(user_export)
user_app.command("erase")(user_erase)
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(silence_app, name="silence")
app.command("deploy")(deploy)
app.command("demo")(demo)
app.add_typer(backup_app, name="backup")
app.add_typer(dashboards_app, name="dashboards")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="address to listen on (default: server.host)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port (default: server.port, 8000)")] = None,
    config: ConfigOption = None,
    migrate_db: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="upgrade the schema first")
    ] = True,
    roles: Annotated[
        str | None,
        typer.Option(
            help="api, workers or api,workers (default: server.roles, both). Several api "
            "processes can serve one database; run-once workers take leases"
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="PEM certificate chain: serve HTTPS (default: server.tls_cert_file)"),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key (default: server.tls_key_file)")
    ] = None,
) -> None:
    """Run the API server and every background worker (or the roles asked for)."""
    from watchkeeper.serve import run

    if roles is not None:
        wanted = [r.strip() for r in roles.split(",") if r.strip()]
        unknown = sorted(set(wanted) - {"api", "workers"})
        if unknown or not wanted:
            raise CliError(
                f"--roles: unknown role {', '.join(unknown) or '(none)'}; "
                "use api, workers or api,workers"
            )
        # Through the environment, so server processes started by uvicorn or granian
        # (server.workers > 1) load the same roles.
        os.environ["WATCHKEEPER_SERVER__ROLES"] = json.dumps(wanted)
    # Likewise the TLS files, so worker processes load the same.
    for option, key in ((tls_cert, "TLS_CERT_FILE"), (tls_key, "TLS_KEY_FILE")):
        if option is not None:
            os.environ[f"WATCHKEEPER_SERVER__{key}"] = str(option.resolve())
    settings, path = common.settings_from(config)
    run(settings, config_file=path, host=host, port=port, migrate=migrate_db)


@app.command()
def init(
    data_dir: Annotated[
        Path, typer.Option(envvar="WATCHKEEPER_DATA_DIR", help="folder for config, database, data")
    ] = Path("data"),
    admin_password: Annotated[
        str | None,
        typer.Option(
            envvar="WATCHKEEPER_ADMIN_PASSWORD",
            help="default: WATCHKEEPER_ADMIN_PASSWORD_FILE's content, else generated (must be "
            "changed at first login)",
        ),
    ] = None,
    profile: Annotated[str, typer.Option(help="dev, staging or production")] = "dev",
    database_url: Annotated[
        str | None, typer.Option(envvar="DATABASE_URL", help="default: SQLite in the data folder")
    ] = None,
) -> None:
    """Create the data folder, a config with generated secrets, the database, tenant `default`
    and user `admin`; print the admin's password."""
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock
    from watchkeeper.config import secret_from_environment

    # WATCHKEEPER_ADMIN_PASSWORD_FILE (a Docker/Kubernetes secret); both variables: an error.
    from_environment = secret_from_environment("WATCHKEEPER_ADMIN_PASSWORD")
    if admin_password is None:
        admin_password = from_environment
    result = initialise(
        data_dir,
        clock=SystemClock(),
        admin_password=admin_password,
        profile=profile,
        database_url=database_url,
    )
    typer.echo(
        f"initialised {data_dir} (config {result.config_file}, database {result.settings.effective_database_url})"
    )
    typer.echo("tenant: default   user: admin")
    if result.password_generated:
        typer.echo(
            "one-time admin password (change it after the first login with POST /auth/password):"
        )
        typer.echo(result.admin_password)
    else:
        typer.echo("admin password: as given (option, WATCHKEEPER_ADMIN_PASSWORD or its _FILE)")


@config_app.command("validate")
def config_validate(file: Path) -> None:
    """Check a config file (with the environment applied); list every problem."""
    settings = load_settings(file)
    typer.echo(f"{file}: valid ({settings.profile} profile)")


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective configuration, secrets redacted."""
    import yaml

    settings, path = common.settings_from(config)
    typer.echo(f"# from {path or 'defaults and environment'}")
    typer.echo(yaml.safe_dump(settings.redacted(), sort_keys=False).rstrip())


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, revision: str = "head") -> None:
    """Apply schema migrations."""
    from watchkeeper.db import migrate
    from watchkeeper.db.engine import build_engine

    settings, _ = common.settings_from(config)
    engine = build_engine(settings)
    try:
        migrate.upgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


@app.command()
def doctor(
    config: ConfigOption = None,
    port: Annotated[
        bool, typer.Option("--port/--no-port", help="check that server.port is free")
    ] = True,
) -> None:
    """Check the environment: Python, dependencies, data folder, database, Redis, remote
    store, TLS files, the port; one line each, exit 1 if any check fails."""
    from watchkeeper.cli.doctor import run_checks

    settings, _ = common.settings_from(config)
    checks = run_checks(settings, check_port=port)
    for check in checks:
        typer.echo(check.line())
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        raise CliError(f"{len(failed)} check(s) failed: {', '.join(failed)}")


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the audit trail's signature chain and its checkpoints (in the database and in
    the data folder); exit 1 at an altered record, a truncation or a rollback."""
    from watchkeeper.audit import CHECKPOINT_FILE, AuditLog

    with common.open_db(config) as db:
        report = AuditLog(
            db.sessions,
            db.settings.jwt_secret_key.get_secret_value(),
            checkpoint_file=db.settings.data_dir / CHECKPOINT_FILE,
        ).verify()
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not report.intact:
        raise CliError(f"{'; '.join(report.problems)} ({report.checked} records checked)")
    typer.echo(f"audit chain intact: {report.checked} records")


_EXPECTED = (
    CliError,
    ConfigError,
    ValueError,
    NotFoundError,
    ConflictError,
    AuthError,
    WeakPasswordError,
    FileExistsError,
    FileNotFoundError,
    PermissionError,
    SQLAlchemyError,
)


def main() -> None:
    """Entry point: expected failures become one line on stderr and exit status 1."""
    from watchkeeper.observability.logging import configure_logging

    configure_logging("warning", "console")
    # The benchmarks pull in the whole detection library (numba, scikit-learn): register
    # them only when they are asked for or listed, so every other command starts quickly.
    wants_bench = len(sys.argv) < 2 or sys.argv[1] in {"bench", "--help"}
    if wants_bench and all(group.name != "bench" for group in app.registered_groups):
        from watchkeeper.cli.bench import bench_app

        app.add_typer(bench_app, name="bench")
    try:
        app()
    except _EXPECTED as exc:
        message = str(exc).strip()
        if isinstance(exc, SQLAlchemyError):
            message = f"database error: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(1) from None
