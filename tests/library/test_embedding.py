"""The brief's embedding API as a program embedding Watchkeeper calls it: a config, a tier,
an orchestrator whose services are the server's own workers and, optionally, its HTTP API."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import anyio
import httpx
import pytest

import watchkeeper
from watchkeeper import (
    ConfigError,
    MonitoringFactory,
    MonitoringTier,
    initialize_monitoring,
    setup_monitoring_config,
)

pytestmark = pytest.mark.anyio

AI_WORKERS = {"detection", "forecast", "incidents"}


async def test_the_brief_snippet_runs_every_worker_of_the_enterprise_tier(tmp_path: Path) -> None:
    config = MonitoringFactory.create_default_config(tmp_path / "data")
    config.tier = MonitoringTier.ENTERPRISE
    orchestrator = await initialize_monitoring(config)
    await orchestrator.start_all_services()
    try:
        running = orchestrator.status()
        assert AI_WORKERS <= set(running)
        assert {running[name] for name in AI_WORKERS} <= {"running", "standby"}
        assert "rules" in " ".join(running)
    finally:
        await orchestrator.stop_all_services()
    assert set(orchestrator.status().values()) == {"stopped"}


async def test_a_fresh_database_gets_the_default_tenant_the_host_collector_writes_to(
    tmp_path: Path,
) -> None:
    from watchkeeper.tenancy import service

    config = MonitoringFactory.create_default_config(tmp_path / "data")
    async with await initialize_monitoring(config) as orchestrator:
        context = orchestrator.context
        with context.sessions.system("test") as db:
            tenant_id = service.find_tenant(db, "default").id
        with anyio.fail_after(10):
            while not context.store.series_count(tenant_id):
                await anyio.sleep(0.05)
        host = next(s for s in context.supervisor.states() if s.name == "host-collector")
        assert (host.status, host.restarts) == ("running", 0)
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


async def test_the_basic_tier_runs_no_detection_forecast_or_correlation(tmp_path: Path) -> None:
    config = MonitoringFactory.create_default_config(tmp_path / "data")
    config.tier = MonitoringTier.BASIC
    async with await initialize_monitoring(config) as orchestrator:
        assert orchestrator.status()
        assert not AI_WORKERS & set(orchestrator.status())
        assert orchestrator.settings.enable_anomaly_detection is False


async def test_with_a_port_the_http_api_answers_until_stopped(tmp_path: Path) -> None:
    config = MonitoringFactory.create_default_config(tmp_path / "data")
    config.port = 0  # any free port
    orchestrator = await initialize_monitoring(config)
    await orchestrator.start_all_services()
    url = orchestrator.url
    assert url is not None
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/health/live")).status_code == 200
    finally:
        await orchestrator.stop_all_services()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=url) as client:
            await client.get("/health/live")


def test_update_config_validates_like_the_admin_api(tmp_path: Path) -> None:
    config = setup_monitoring_config("dev", data_dir=tmp_path)
    before = config.settings

    with pytest.raises(ConfigError) as raised:
        config.update_config("metrics", {"retention_days": 30, "collection_interval": -5})
    assert [p.key for p in raised.value.problems] == ["metrics.collection_interval"]
    assert "metrics.collection_interval" in str(raised.value)
    assert config.settings is before

    updated = config.update_config("metrics", {"retention_days": 30})
    assert updated.metrics.retention_days == 30 and config.settings is updated
    assert before.metrics.retention_days != 30


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    config = setup_monitoring_config("dev", data_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"metrics\.retention_dayz: .*unknown key"):
        config.update_config("metrics", {"retention_dayz": 30})


def test_production_refuses_the_development_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="jwt_secret_key"):
        setup_monitoring_config("production", data_dir=tmp_path)

    monkeypatch.setenv("WATCHKEEPER_JWT_SECRET_KEY", secrets.token_urlsafe(48))
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("WATCHKEEPER_ENCRYPTION_KEY", key)
    config = setup_monitoring_config("production", data_dir=tmp_path)
    assert config.settings.profile == "production"


def test_import_watchkeeper_stays_light_until_the_api_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, watchkeeper; "
        "print(any(m.startswith(('watchkeeper.library', 'fastapi', 'pandas')) "
        "for m in sys.modules)); "
        "watchkeeper.MonitoringFactory; print('watchkeeper.library.monitoring' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["False", "True"]
    assert watchkeeper.__version__


async def test_a_port_in_use_is_an_error_not_an_exit(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        config = MonitoringFactory.create_default_config(tmp_path / "data")
        config.port = taken.getsockname()[1]
        orchestrator = await initialize_monitoring(config)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{config.port}"):
            await orchestrator.start_all_services()
    assert not orchestrator.running
    await orchestrator.stop_all_services()  # closes what initialize_monitoring opened


def test_every_exported_name_resolves() -> None:
    missing = [name for name in watchkeeper.__all__ if getattr(watchkeeper, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError):
        _ = watchkeeper.NoSuchThing
