"""`<SECRET>_FILE` variables (Docker and Kubernetes secrets): the file's content is the
secret, one trailing newline dropped; giving a secret both ways is an error."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result, run  # noqa: F401  (the in-process CLI fixture)
from tests.support import ADMIN_PASSWORD
from watchkeeper.config import ConfigError, load_settings

STRONG = "s3cr3t-" + "abcdefghijklmnopqrstuvwxyz0123456789"
KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


def _secret(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("JWT_SECRET_KEY", STRONG, lambda s: s.jwt_secret_key.get_secret_value()),
        ("ENCRYPTION_KEY", KEY, lambda s: s.encryption_key.get_secret_value()),
        ("DATABASE_URL", "postgresql://wk:pw@db/wk", lambda s: s.database_url),
        ("REDIS_URL", "redis://:pw@cache:6379/0", lambda s: s.redis_url),
        ("REDIS_PASSWORD", "redis pass", lambda s: s.redis_password.get_secret_value()),
        (
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/x",
            lambda s: s.slack_webhook_url.get_secret_value(),
        ),
        (
            "WATCHKEEPER_JWT_SECRET_KEY",
            STRONG,
            lambda s: s.jwt_secret_key.get_secret_value(),
        ),
        (
            "WATCHKEEPER_METRICS_TOKEN",
            "scrape-token",
            lambda s: s.observability.metrics_token.get_secret_value(),
        ),
    ],
)
def test_a_secret_is_read_from_the_file_its_variable_names(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    read: Callable[..., str],
) -> None:
    monkeypatch.setenv(f"{variable}_FILE", _secret(tmp_path, "secret", value + "\n"))
    assert read(load_settings()) == value  # one trailing newline dropped


def test_only_one_trailing_newline_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_PASSWORD_FILE", _secret(tmp_path, "p", "two newlines\n\n"))
    assert load_settings().redis_password.get_secret_value() == "two newlines\n"  # type: ignore[union-attr]


def test_a_file_secret_overrides_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"jwt_secret_key: {'y' * 40}\nobservability:\n  log_level: debug\n")
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", _secret(tmp_path, "jwt", STRONG))
    monkeypatch.setenv("WATCHKEEPER_METRICS_TOKEN_FILE", _secret(tmp_path, "t", "tok"))
    settings = load_settings(config)
    assert settings.jwt_secret_key.get_secret_value() == STRONG
    assert settings.observability.log_level == "debug"  # the section is merged, not replaced


def test_setting_a_secret_and_its_file_is_an_error_that_does_not_print_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", "the-direct-secret-value-1234567890")
    monkeypatch.setenv("JWT_SECRET_KEY_FILE", _secret(tmp_path, "jwt", STRONG))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "JWT_SECRET_KEY_FILE" in text and "JWT_SECRET_KEY" in text
    assert "the-direct-secret-value" not in text and STRONG not in text


def test_a_missing_secret_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCRYPTION_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=r"ENCRYPTION_KEY_FILE.*cannot read"):
        load_settings()


def test_init_takes_the_admin_password_from_a_file(
    tmp_path: Path,
    run: Callable[..., Result],  # noqa: F811
) -> None:
    password_file = _secret(tmp_path, "admin", ADMIN_PASSWORD + "\n")
    result = run(
        "init",
        "--data-dir",
        str(tmp_path / "d"),
        env={"WATCHKEEPER_ADMIN_PASSWORD_FILE": password_file},
    )
    assert ADMIN_PASSWORD not in result.stdout  # not generated, so not printed
    from fastapi.testclient import TestClient

    from watchkeeper.api.app import create_app
    from watchkeeper.clock import ManualClock

    settings = load_settings(tmp_path / "d" / "watchkeeper.yaml")
    with TestClient(create_app(settings, clock=ManualClock(start=time.time()))) as client:
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status_code == 200


def test_init_refuses_the_admin_password_given_twice(
    tmp_path: Path,
    run: Callable[..., Result],  # noqa: F811
) -> None:
    result = run(
        "init",
        "--data-dir",
        str(tmp_path / "d"),
        env={
            "WATCHKEEPER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "WATCHKEEPER_ADMIN_PASSWORD_FILE": _secret(tmp_path, "a", ADMIN_PASSWORD),
        },
        check=False,
    )
    assert result.returncode == 1 and "WATCHKEEPER_ADMIN_PASSWORD_FILE" in result.stderr
