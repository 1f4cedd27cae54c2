"""What every command needs: find and load the config, open the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from watchkeeper.clock import SystemClock
from watchkeeper.config import Settings, load_settings
from watchkeeper.db.engine import build_engine
from watchkeeper.db.tables import Tenant
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import find_tenant

CONFIG_NAME = "watchkeeper.yaml"

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="WATCHKEEPER_CONFIG",
        help="YAML config file "
        "(default: $WATCHKEEPER_DATA_DIR/watchkeeper.yaml or ./data/watchkeeper.yaml if present)",
    ),
]


class CliError(Exception):
    """A failure to report as one line and a non-zero exit."""


def find_config(explicit: Path | None, data_dir: Path | None = None) -> Path | None:
    if explicit is not None:
        if not explicit.exists():
            raise CliError(f"config file {explicit} does not exist")
        return explicit
    for candidate in ([data_dir / CONFIG_NAME] if data_dir else []) + [Path("data") / CONFIG_NAME]:
        if candidate.exists():
            return candidate
    return None


def settings_from(config: Path | None) -> tuple[Settings, Path | None]:
    first = load_settings(find_config(config))
    path = find_config(config, first.data_dir)
    if path is not None and config is None:
        return load_settings(path), path
    return first, path


@dataclass
class Db:
    settings: Settings
    sessions: SessionFactory
    clock: SystemClock


@contextmanager
def open_db(config: Path | None) -> Iterator[Db]:
    settings, _ = settings_from(config)
    engine = build_engine(settings)
    try:
        yield Db(settings, SessionFactory(engine), SystemClock())
    finally:
        engine.dispose()


@contextmanager
def tenant_session(db: Db, tenant: str, reason: str) -> Iterator[tuple[Tenant, Session]]:
    """The tenant named (or with the id) `tenant`, found in a system session audited as
    `reason`, and a session bound to it: how every per-tenant command starts."""
    with db.sessions.system(reason) as session:
        row = find_tenant(session, tenant)
    with db.sessions.tenant(row.id) as session:
        yield row, session
