"""First start: data folder, a config with generated secrets, the schema, tenant and admin."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from watchkeeper.auth import passwords, users
from watchkeeper.clock import Clock
from watchkeeper.config import Settings, load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.tenancy import service
from watchkeeper.tenancy.scope import SessionFactory

CONFIG_HEADER = """\
# Watchkeeper configuration, written by `watchkeeper init`.
# Every key is documented in watchkeeper.example.yaml; environment variables override this file.
# Keep this file private: it holds the signing and encryption secrets.
"""


@dataclass(frozen=True)
class InitResult:
    config_file: Path
    settings: Settings
    admin_password: str
    password_generated: bool


def write_config(data_dir: Path, *, profile: str = "dev", database_url: str | None = None) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir / "watchkeeper.yaml"
    if config_file.exists():
        raise FileExistsError(f"{config_file} already exists: this data folder is initialised")
    values: dict[str, object] = {
        "profile": profile,
        "data_dir": str(data_dir.resolve()),
        "jwt_secret_key": secrets.token_urlsafe(48),
        "encryption_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    if database_url:
        values["database_url"] = database_url
    config_file.write_text(CONFIG_HEADER + yaml.safe_dump(values, sort_keys=False))
    config_file.chmod(0o600)
    return config_file


def initialise(
    data_dir: Path,
    *,
    clock: Clock,
    admin_password: str | None = None,
    profile: str = "dev",
    database_url: str | None = None,
) -> InitResult:
    generated = admin_password is None
    password = admin_password or passwords.generate_password()
    passwords.check_policy(password)
    config_file = write_config(data_dir, profile=profile, database_url=database_url)
    settings = load_settings(config_file)
    engine = build_engine(settings)
    try:
        migrate.upgrade(engine)
        sessions = SessionFactory(engine)
        with sessions.system("init") as db:
            tenant = service.create_tenant(
                db, name="default", display_name="Default", now=clock.now()
            )
        with sessions.tenant(tenant.id) as db:
            users.add_user(
                db,
                username="admin",
                password=password,
                role="admin",
                now=clock.now(),
                superadmin=True,
                password_change_required=generated,
            )
    finally:
        engine.dispose()
    return InitResult(config_file, settings, password, generated)
