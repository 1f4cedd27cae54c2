"""Shared fixtures: databases (SQLite and PostgreSQL), a manual clock, a running app.

Tests that need an external service skip when it is missing, unless
WATCHKEEPER_REQUIRE_SERVICES=1 (set by .ci/run), which turns those skips into failures.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from tests.receivers import HttpReceiver
from tests.support import (
    ADMIN_PASSWORD,
    LOCAL_OUTBOUND_ALLOW,
    POSTGRES_DSN,
    free_port,
    missing,
    port_open,
)
from watchkeeper.app_context import AppContext
from watchkeeper.clock import ManualClock

if TYPE_CHECKING:
    from tests.test_server_process import Server


SQLITE_PREFIX = "sqlite:///"


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return port_open("127.0.0.1", 5432)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_available: bool
) -> Iterator[str]:
    """Every database test runs twice: on SQLite and on PostgreSQL (in a schema of its own)."""
    if request.param == "sqlite":
        yield f"{SQLITE_PREFIX}{tmp_path / 'meta.db'}"
        return
    if not postgres_available:
        missing("PostgreSQL is not reachable at 127.0.0.1:5432")
    from sqlalchemy import create_engine, text

    schema = f"wk_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_DSN)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_DSN}?options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        # A connection the test leaked (a thread still mid-pass) would deadlock the DROP;
        # end this schema's sessions first.
        with admin.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": schema},
            )
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=time.time())


@dataclass
class Env:
    """An initialised Watchkeeper (config, schema, tenant `default`, user `admin`) and its app,
    which runs its background workers only for a test marked `workers`."""

    data_dir: Path
    config_file: Path
    client: TestClient
    clock: ManualClock

    @property
    def context(self) -> AppContext:
        """The running app's components (store, sessions, workers) for white-box checks."""
        context: AppContext = self.client.app.state.context  # type: ignore[attr-defined]
        return context

    def login(
        self, username: str = "admin", password: str = ADMIN_PASSWORD, tenant: str | None = None
    ) -> dict[str, str]:
        body = {"username": username, "password": password}
        if tenant:
            body["tenant"] = tenant
        response = self.client.post("/auth/login", json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A running test HTTP receiver (tests/receivers.py) that answers 200 "ok" by default."""
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def outbound_allow() -> list[str]:
    """`security.outbound_allow` of the `env` app: this machine's test receivers. A module
    testing the outbound guard itself overrides this fixture with []."""
    return LOCAL_OUTBOUND_ALLOW


@pytest.fixture
def default_rule_pack() -> bool:
    """`alerting.default_rule_pack` of the `env` app: off, so this machine's real load or a
    clock advanced past a `for` cannot fire host alerts (and notifications) into tests of the
    default tenant; the pack's own tests override this fixture with True."""
    return False


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, for tests to copy: migrating takes
    most of an `env`'s set-up, and `initialise` then finds the copy current (Alembic applies
    no revision twice) and only adds tenant `default` and user `admin`."""
    from sqlalchemy import create_engine

    from watchkeeper.db import migrate

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def env(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_url: str,
    migrated_sqlite: Path,
    clock: ManualClock,
    outbound_allow: list[str],
    default_rule_pack: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Env]:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise

    # No background worker unless the test is marked `workers`: a test that evaluates rules
    # or dispatches by hand would race them (a clock advance wakes every loop), and starting
    # them all costs every test.
    start_workers = request.node.get_closest_marker("workers") is not None
    monkeypatch.setenv("WATCHKEEPER_SECURITY__OUTBOUND_ALLOW", json.dumps(outbound_allow))
    monkeypatch.setenv("WATCHKEEPER_ALERTING__DEFAULT_RULE_PACK", json.dumps(default_rule_pack))
    data_dir = tmp_path / "data"
    if database_url.startswith(SQLITE_PREFIX):
        shutil.copyfile(migrated_sqlite, database_url.removeprefix(SQLITE_PREFIX))
    result = initialise(
        data_dir, clock=clock, admin_password=ADMIN_PASSWORD, database_url=database_url
    )
    app = create_app(
        result.settings,
        clock=clock,
        config_file=result.config_file,
        start_workers=start_workers,
    )
    with TestClient(app) as client:
        yield Env(data_dir, result.config_file, client, clock)


# Two tenants with an admin, a viewer and an API key each, for isolation tests.


@dataclass
class TenantFixture:
    name: str
    admin: dict[str, str]
    viewer: dict[str, str]
    key: dict[str, str]
    key_id: str
    viewer_id: str


def make_tenant(env: Env, root: dict[str, str], name: str) -> TenantFixture:
    assert env.client.post("/api/v1/tenants", json={"name": name}, headers=root).status_code == 201
    # A tenant's first admin is added by the super-admin acting through the CLI-equivalent
    # service; over the API the super-admin logs into the tenant after being added.
    from watchkeeper.auth import users
    from watchkeeper.tenancy import service

    context = env.context
    with context.sessions.system("test") as db:
        tenant = service.find_tenant(db, name)
    with context.sessions.tenant(tenant.id) as db:
        users.add_user(
            db, username=f"{name}-admin", password=ADMIN_PASSWORD, role="admin", now=env.clock.now()
        )
    admin = env.login(f"{name}-admin", tenant=name)
    viewer = env.client.post(
        "/api/v1/users",
        headers=admin,
        json={"username": f"{name}-viewer", "password": ADMIN_PASSWORD, "role": "viewer"},
    )
    assert viewer.status_code == 201, viewer.text
    key = env.client.post(
        "/api/v1/apikeys", headers=admin, json={"name": "machines", "scopes": ["admin"]}
    )
    assert key.status_code == 201, key.text
    return TenantFixture(
        name=name,
        admin=admin,
        viewer=env.login(f"{name}-viewer", tenant=name),
        key={"X-API-Key": key.json()["key"]},
        key_id=key.json()["id"],
        viewer_id=viewer.json()["id"],
    )


@pytest.fixture
def root(env: Env) -> dict[str, str]:
    return env.login()


@pytest.fixture
def acme(env: Env, root: dict[str, str]) -> TenantFixture:
    return make_tenant(env, root, "acme")


@pytest.fixture
def globex(env: Env, root: dict[str, str]) -> TenantFixture:
    return make_tenant(env, root, "globex")


# One real `watchkeeper serve` shared by the suite's tests with real clients (Prometheus,
# Alertmanager, amtool, the OpenTelemetry SDK): starting one takes seconds. Tests that use it
# keep to their own metric and alert names.


@pytest.fixture(scope="session")
def stack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import signal

    import yaml

    from tests.test_server_process import Server as RunningServer
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    root = tmp_path_factory.mktemp("stack")
    result = initialise(root / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    result.config_file.write_text(yaml.safe_dump(config))
    running = RunningServer(result.config_file, free_port())
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.kill(signal.SIGTERM)


@pytest.fixture(scope="session")
def stack_key(stack_server: Server) -> str:
    """An API key of the stack server's default tenant with every scope."""
    import httpx

    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{stack_server.url}/api/v1/apikeys",
            headers=stack_server.login(client),
            json={"name": "stack", "scopes": ["read", "write", "ingest"]},
        )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])
