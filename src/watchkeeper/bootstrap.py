"""First start: data folder, a config with generated secrets, the schema, tenant and admin."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from watchkeeper.auth import passwords, users
from watchkeeper.clock import Clock
from watchkeeper.config import Settings, load_settings
from watchkeeper.db import migrate
from watchkeeper.db.engine import build_engine
from watchkeeper.runtime.file_modes import PRIVATE_DIR, PRIVATE_FILE, restrict_umask, secure_data
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
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    data_dir.chmod(PRIVATE_DIR)
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
    # Created owner-only (not chmod-ed after): the secrets are never readable by others.
    descriptor = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(descriptor, "w") as out:
        out.write(CONFIG_HEADER + yaml.safe_dump(values, sort_keys=False))
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
    previous_umask = restrict_umask()
    try:
        config_file = write_config(data_dir, profile=profile, database_url=database_url)
        settings = load_settings(config_file)
        result = _populate(settings, clock, password, password_change_required=generated)
        secure_data(settings, config_file)
    finally:
        os.umask(previous_umask)
    return InitResult(config_file, settings, result, generated)


def _populate(
    settings: Settings, clock: Clock, password: str, *, password_change_required: bool
) -> str:
    """Schema, tenant `default` and user `admin`."""
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
                password_change_required=password_change_required,
            )
    finally:
        engine.dispose()
    return password
