"""`watchkeeper doctor`: is this machine ready to run Watchkeeper with this configuration?

One line per check (`ok`, `warn` or `fail`, the check's name, what it found); the exit status
is 1 when any check fails, so a container entrypoint or a deployment pipeline can stop on it.
Warnings are what a production deployment should fix but that do not stop a start.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Literal

from watchkeeper.config import Settings

Status = Literal["ok", "warn", "fail"]
MIN_FREE_BYTES = 512 * 2**20
WARN_FREE_BYTES = 5 * 2**30
MAX_SKEW_SECONDS = 2.0
"""Leases compare each replica's clock with the database's rows."""


@dataclass(frozen=True)
class Check:
    status: Status
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<14}  {self.detail}"


def _python() -> Check:
    """The interpreter against the package's `Requires-Python` (as installed)."""
    from packaging.specifiers import SpecifierSet

    version = ".".join(map(str, sys.version_info[:3]))
    wanted = SpecifierSet(metadata.metadata("watchkeeper")["Requires-Python"] or "")
    if not wanted.contains(version):
        return Check("fail", "python", f"{version}: Watchkeeper needs Python {wanted}")
    return Check("ok", "python", version)


def _dependencies() -> Check:
    """Every core requirement of the installed package is installed in a matching version."""
    from packaging.requirements import Requirement

    problems: list[str] = []
    requirements = metadata.requires("watchkeeper") or []
    checked = 0
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement
        checked += 1
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement.name} missing")
            continue
        if requirement.specifier and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            problems.append(f"{requirement.name} {installed} (needs {requirement.specifier})")
    if problems:
        return Check("fail", "dependencies", "; ".join(problems))
    return Check("ok", "dependencies", f"{checked} core packages in the required versions")


def _data_dir(settings: Settings) -> Iterator[Check]:
    folder = settings.data_dir
    if not folder.exists():
        yield Check("fail", "data folder", f"{folder} does not exist (run `watchkeeper init`)")
        return
    if not os.access(folder, os.W_OK | os.X_OK):
        yield Check("fail", "data folder", f"{folder} is not writable by uid {os.getuid()}")
        return
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        yield Check(
            "warn", "data folder", f"{folder} is mode {mode:o}: others can read it (want 700)"
        )
    else:
        yield Check("ok", "data folder", f"{folder} writable, mode {mode:o}")
    free = shutil.disk_usage(folder).free
    gib = free / 2**30
    if free < MIN_FREE_BYTES:
        yield Check("fail", "free space", f"{gib:.2f} GiB free in {folder}")
    elif free < WARN_FREE_BYTES:
        yield Check("warn", "free space", f"{gib:.1f} GiB free in {folder} (want 5 GiB or more)")
    else:
        yield Check("ok", "free space", f"{gib:.1f} GiB free")


def _database(settings: Settings) -> Iterator[Check]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from watchkeeper.db import migrate
    from watchkeeper.db.engine import build_engine

    engine = build_engine(settings)
    try:
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            ms = (time.perf_counter() - started) * 1000
            yield Check("ok", "database", f"{engine.dialect.name} reachable in {ms:.0f} ms")
            if engine.dialect.name == "postgresql":
                theirs = connection.execute(text("SELECT now()")).scalar_one()
                skew = abs((datetime.now(UTC) - theirs).total_seconds())
                status: Status = "ok" if skew <= MAX_SKEW_SECONDS else "fail"
                yield Check(status, "clock skew", f"{skew:.3f} s against the database")
            else:
                yield Check("ok", "clock skew", "n/a (the database runs in this process)")
        current, head = migrate.current_revision(engine), migrate.head_revision()
        if current == head:
            yield Check("ok", "migrations", f"schema at {current}")
        else:
            yield Check(
                "fail",
                "migrations",
                f"schema at {current or 'nothing'}, code needs {head} (`watchkeeper db upgrade`)",
            )
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).splitlines()[0]
        yield Check("fail", "database", f"{engine.url.render_as_string()}: {first}")
    finally:
        engine.dispose()


def _redis(settings: Settings) -> Check | None:
    if not settings.redis_url:
        return None
    import redis

    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    try:
        client = redis.Redis.from_url(settings.redis_url, password=password, socket_timeout=3)
        started = time.perf_counter()
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return Check("fail", "redis", f"{settings.redis_url}: {exc}")
    return Check("ok", "redis", f"reachable in {(time.perf_counter() - started) * 1000:.0f} ms")


def _remote_store(settings: Settings) -> Check | None:
    storage = settings.storage
    if storage.backend != "remote" or not storage.remote_url:
        return None
    import httpx

    url = storage.remote_url.rstrip("/") + "/api/v1/status/buildinfo"
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return Check("fail", "remote store", f"{storage.remote_url}: {exc}")
    if response.status_code >= 500:
        return Check("fail", "remote store", f"{url} answered {response.status_code}")
    return Check("ok", "remote store", f"{storage.remote_url} answers ({response.status_code})")


def _port(settings: Settings) -> Check:
    host, port = settings.server.host, settings.server.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return Check("fail", "port", f"{host}:{port} cannot be bound: {exc.strerror}")
    return Check("ok", "port", f"{host}:{port} is free")


def _tls(settings: Settings) -> Check | None:
    cert = getattr(settings.server, "tls_cert_file", None)
    key = getattr(settings.server, "tls_key_file", None)
    if not cert and not key:
        return None
    if not (cert and key):
        return Check("fail", "tls", "set both the certificate and the key file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(Path(cert), Path(key))
    except (OSError, ssl.SSLError) as exc:
        return Check("fail", "tls", f"{cert} / {key}: {exc}")
    return Check("ok", "tls", f"{cert} and its key load")


def run_checks(settings: Settings, *, check_port: bool = True) -> list[Check]:
    checks = [_python(), _dependencies(), *_data_dir(settings), *_database(settings)]
    optional: list[Callable[[Settings], Check | None]] = [_redis, _remote_store, _tls]
    if check_port:
        optional.append(_port)
    for check in optional:
        found = check(settings)
        if found is not None:
            checks.append(found)
    return checks
