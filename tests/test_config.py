"""Configuration: YAML + environment, names from the product brief, profiles, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from watchkeeper.config import (
    ConfigError,
    Settings,
    apply_patch,
    filesystem_type,
    load_settings,
    persist_patch,
)

REPO = Path(__file__).resolve().parents[1]
STRONG = "Zk3pQ9xV7mW2rT5yB8nL4cF6hJ1sD0gA-strong"
KEY = "q2y5l2oQ1FQk8cR0o3aJt6vYB4wN9mZx7eL1pH3sK0U="


def test_brief_environment_names_and_nested_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("metrics:\n  retention_days: 30\ndatabase_pool_size: 3\n")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "12")
    monkeypatch.setenv("RETRAIN_INTERVAL_HOURS", "6")
    monkeypatch.setenv("ENABLE_ANOMALY_DETECTION", "false")
    monkeypatch.setenv("WATCHKEEPER_METRICS__COLLECTION_INTERVAL", "15")
    settings = load_settings(config)
    assert settings.database_pool_size == 12  # environment beats the file
    assert settings.metrics.retention_days == 30 and settings.metrics.collection_interval == 15
    assert settings.retrain_interval_hours == 6 and settings.enable_anomaly_detection is False


def test_generic_debug_variable_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "1")
    assert load_settings().debug is False


def test_errors_name_key_value_and_rule(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "metrics:\n  retention_days: 0\n  colection_interval: 5\nemail_smtp_port: 99999\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problems = {p.key: p for p in caught.value.problems}
    assert problems["metrics.retention_days"].value == "0"
    assert "greater than or equal to 1" in problems["metrics.retention_days"].rule
    assert "unknown key" in problems["metrics.colection_interval"].rule
    assert "email_smtp_port" in problems


def test_production_refuses_unsafe_settings_and_says_why() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"profile": "production", "debug": True, "jwt_secret_key": "short"})
    keys = " ".join(p.key for p in caught.value.problems)
    assert "jwt_secret_key" in keys and "encryption_key" in keys and "debug" in keys
    text = str(caught.value)
    assert "at least 32" in text and "short" not in text  # the secret itself is never printed


def test_production_accepts_strong_settings(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={
            "profile": "production",
            "jwt_secret_key": STRONG,
            "encryption_key": KEY,
            "data_dir": str(tmp_path),
        }
    )
    assert settings.profile == "production"


def test_production_refuses_sqlite_on_a_network_share() -> None:
    with pytest.raises(ConfigError, match="network share"):
        load_settings(
            overrides={
                "profile": "production",
                "jwt_secret_key": STRONG,
                "encryption_key": KEY,
                "database_url": "sqlite://///nas/share/watchkeeper.db",
            }
        )


def test_filesystem_type_reads_the_longest_mount(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nnas:/vol {tmp_path} nfs4 rw 0 0\n")
    assert filesystem_type(tmp_path / "db.sqlite", mounts) == "nfs4"
    assert filesystem_type(Path("/usr"), mounts) == "ext4"


def test_bad_encryption_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        load_settings(overrides={"encryption_key": "dG9vLXNob3J0"})


def test_redaction_hides_every_secret() -> None:
    settings = load_settings(
        overrides={
            "jwt_secret_key": STRONG,
            "redis_password": "pw-123",
            "database_url": "postgresql://u:dbpass@h/db",
            "metrics": {
                "scrape_configs": [{"job_name": "n", "targets": ["h:1"], "bearer_token": "tok-9"}]
            },
        }
    )
    text = yaml.safe_dump(settings.redacted())
    for secret in (STRONG, "pw-123", "dbpass", "tok-9"):
        assert secret not in text


def test_apply_patch_is_all_or_nothing() -> None:
    settings = load_settings()
    with pytest.raises(ConfigError):
        apply_patch(settings, {"metrics": {"retention_days": 5, "collection_interval": 0}})
    assert settings.metrics.retention_days == 90
    assert apply_patch(settings, {"metrics": {"retention_days": 5}}).metrics.retention_days == 5


def test_persist_patch_merges_into_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("profile: dev\nmetrics:\n  collection_interval: 10\n")
    persist_patch(config, {"metrics": {"retention_days": 7}})
    assert yaml.safe_load(config.read_text()) == {
        "profile": "dev",
        "metrics": {"collection_interval": 10, "retention_days": 7},
    }


def test_example_files_document_every_key() -> None:
    example = yaml.safe_load((REPO / "watchkeeper.example.yaml").read_text())
    for name, field in Settings.model_fields.items():
        assert name in example, f"watchkeeper.example.yaml lacks {name}"
        section = getattr(field.annotation, "model_fields", None)
        if section:
            assert set(section) <= set(example[name]), (
                f"{name}: {set(section) - set(example[name])}"
            )
    load_settings(REPO / "watchkeeper.example.yaml")
    env_example = (REPO / ".env.example").read_text()
    for brief_name in (
        "DATABASE_URL",
        "DATABASE_POOL_SIZE",
        "REDIS_URL",
        "REDIS_PASSWORD",
        "JWT_SECRET_KEY",
        "ENCRYPTION_KEY",
        "SLACK_WEBHOOK_URL",
        "EMAIL_SMTP_SERVER",
        "EMAIL_SMTP_PORT",
        "AI_MODELS_PATH",
        "ENABLE_ANOMALY_DETECTION",
        "RETRAIN_INTERVAL_HOURS",
    ):
        assert f"\n{brief_name}=" in env_example


def test_split_roles_need_the_remote_store() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"server": {"roles": ["api"]}})
    assert "server.roles" in {p.key for p in caught.value.problems}
    settings = load_settings(
        overrides={
            "server": {"roles": ["workers"]},
            "storage": {"backend": "remote", "remote_url": "http://127.0.0.1:8428"},
        }
    )
    assert settings.server.roles == ["workers"]


def test_wal_shipping_is_refused_without_a_sqlite_database(tmp_path: Path) -> None:
    postgres = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"database_url": postgres, "backup": {"wal_shipping": True}})
    assert "backup.wal_shipping" in {p.key for p in caught.value.problems}
    settings = load_settings(
        overrides={
            "database_url": f"sqlite:///{tmp_path / 'meta.db'}",
            "backup": {"wal_shipping": True},
        }
    )
    assert settings.backup.wal_shipping
