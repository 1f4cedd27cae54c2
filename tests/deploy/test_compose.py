"""The compose files: structure (services, roles, healthchecks, start order), and every
variable they give Watchkeeper is one it reads: the Settings built from that environment
carry the intended values. (Running the scale-out stack needs the PostgreSQL, Redis and
VictoriaMetrics images from a registry this machine cannot reach; the single-node image is
exercised by tests/deploy/test_container.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices, BaseModel

from watchkeeper.config import SECRET_FILE_VARIABLES, Settings, load_settings, serving_problems

COMPOSE = Path(__file__).resolve().parents[2] / "src" / "watchkeeper" / "deploy_files" / "compose"
WATCHKEEPER_SERVICES = {"api-1": "api", "api-2": "api", "workers": "workers"}

# Variables Watchkeeper reads outside Settings, and why.
NOT_SETTINGS = {
    "WATCHKEEPER_CONFIG",  # the CLI's --config
    "WATCHKEEPER_ADMIN_PASSWORD",  # `init`
    "WATCHKEEPER_ADMIN_PASSWORD_FILE",  # `init`
    "NUMBA_CACHE_DIR",  # numba's cache of compiled code (read-only root filesystem)
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / name).read_text())
    return data


def interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` with nothing set: the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def is_settings_key(name: str) -> bool:
    """`WATCHKEEPER_SECTION__KEY`, a brief name (DATABASE_URL, ...) or a secret's `*_FILE`."""
    if any(name in variables.values() for variables in SECRET_FILE_VARIABLES.values()):
        return True
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices) and name in alias.choices:
            return True
    if not name.startswith("WATCHKEEPER_"):
        return False
    model: type[BaseModel] = Settings
    parts = name.removeprefix("WATCHKEEPER_").lower().split("__")
    for i, part in enumerate(parts):
        found = model.model_fields.get(part)
        if found is None:
            return False
        annotation = found.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_the_key_check_is_not_vacuous() -> None:
    assert is_settings_key("WATCHKEEPER_STORAGE__REMOTE_URL")
    assert is_settings_key("DATABASE_URL_FILE")
    assert is_settings_key("REDIS_URL")
    assert not is_settings_key("WATCHKEEPER_STORAGE__REMOTE")
    assert not is_settings_key("WATCHKEEPER_SERVER__HOST__X")
    assert not is_settings_key("DATABASE")


@pytest.mark.parametrize("name", ["compose.yaml", "compose.scale-out.yaml"])
def test_every_variable_is_read_by_watchkeeper(name: str) -> None:
    services = load(name)["services"]
    ours = [s for s in services.values() if "watchkeeper" in s["image"]]
    assert ours
    for service in ours:
        for variable in service["environment"]:
            assert variable in NOT_SETTINGS or is_settings_key(variable), variable


def test_single_node_keeps_its_data_in_a_volume() -> None:
    compose = load("compose.yaml")
    [(name, service)] = compose["services"].items()
    assert name == "watchkeeper"
    assert "entrypoint" not in service  # the image's: init, doctor, serve
    assert "watchkeeper-data:/data" in service["volumes"]
    assert "watchkeeper-data" in compose["volumes"]
    assert "/health/ready" in " ".join(service["healthcheck"]["test"])
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]


def test_scale_out_runs_two_api_replicas_and_one_workers_replica() -> None:
    compose = load("compose.scale-out.yaml")
    services = compose["services"]
    assert set(services) == {*WATCHKEEPER_SERVICES, "postgres", "redis", "victoriametrics"}
    for name, role in WATCHKEEPER_SERVICES.items():
        service = services[name]
        assert service["command"] == ["serve", "--roles", role]
        assert service["entrypoint"] == ["watchkeeper"]
        assert service["depends_on"] == {
            dependency: {"condition": "service_healthy"}
            for dependency in ("postgres", "redis", "victoriametrics")
        }
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        # Each replica has a data folder of its own (replica locks, model checkpoints).
        [volume] = service["volumes"]
        assert volume == f"{name}-data:/data"
    for name in ("postgres", "redis", "victoriametrics"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    published = [services[n]["ports"] for n in ("api-1", "api-2")]
    assert published == [["8001:8000"], ["8002:8000"]]
    # Secrets are files: no secret value in the environment.
    env = services["api-1"]["environment"]
    for secret in ("JWT_SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL"):
        assert secret not in env
        assert env[f"{secret}_FILE"] == f"/run/secrets/{secret.lower()}"
        assert secret.lower() in services["api-1"]["secrets"]
    assert set(compose["secrets"]) == {
        "jwt_secret_key",
        "encryption_key",
        "database_url",
        "postgres_password",
    }


def _settings_of(service: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    secrets = {
        "jwt_secret_key": "s3cr3t-abcdefghijklmnopqrstuvwxyz0123456789",
        "encryption_key": "A" * 43 + "=",
        "database_url": "postgresql+psycopg://watchkeeper:pw@postgres:5432/watchkeeper",
    }
    for variable, value in service["environment"].items():
        value = interpolate(value)
        if value.startswith("/run/secrets/"):
            path = tmp_path / value.rsplit("/", 1)[-1]
            path.write_text(secrets[path.name] + "\n")
            value = str(path)
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("WATCHKEEPER_DATA_DIR", str(tmp_path / "data"))
    role = service["command"][service["command"].index("--roles") + 1]
    monkeypatch.setenv("WATCHKEEPER_SERVER__ROLES", f'["{role}"]')  # what `serve --roles` sets
    return load_settings(None)


@pytest.mark.parametrize("name", sorted(WATCHKEEPER_SERVICES))
def test_scale_out_environment_builds_the_intended_settings(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = load("compose.scale-out.yaml")["services"][name]
    settings = _settings_of(service, tmp_path, monkeypatch)
    assert settings.server.roles == [WATCHKEEPER_SERVICES[name]]
    assert settings.storage.backend == "remote"
    assert settings.storage.remote_url == "http://victoriametrics:8428"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.effective_database_url.startswith("postgresql+psycopg://watchkeeper:pw@")
    assert settings.jwt_secret_key.get_secret_value().startswith("s3cr3t-")
    assert settings.server.host == "0.0.0.0"


def test_scale_out_starts_under_the_production_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = load("compose.scale-out.yaml")["services"]["api-1"]
    service["environment"]["WATCHKEEPER_PROFILE"] = "production"
    settings = _settings_of(service, tmp_path, monkeypatch)
    assert settings.profile == "production"
    assert serving_problems(settings) == []  # TLS at the load balancer (security.tls_proxy)
