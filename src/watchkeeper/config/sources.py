"""Where settings come from besides the environment: the YAML file and `*_FILE` secret files.

`load_settings` reads the YAML file itself (to report a missing or malformed file clearly) and
hands its data to `YamlSource` through a context variable for the one validation that reads it.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from watchkeeper.config.problems import ConfigError, ConfigProblem

yaml_data: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "_yaml_data", default=None
)


class YamlSource(PydanticBaseSettingsSource):
    """The YAML config file, already read by `load_settings`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (yaml_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(yaml_data.get() or {})


# Secrets that may also come from a file named by a `*_FILE` variable (Docker and Kubernetes
# secrets): dotted key -> {variable that sets it directly: variable naming a file}. The metrics
# token's file variable is not nested: a nested name would read as an unknown section key.
SECRET_FILE_VARIABLES: dict[str, dict[str, str]] = {
    key: {name: f"{name}_FILE" for name in names}
    for key, names in {
        "jwt_secret_key": ("JWT_SECRET_KEY", "WATCHKEEPER_JWT_SECRET_KEY"),
        "encryption_key": ("ENCRYPTION_KEY", "WATCHKEEPER_ENCRYPTION_KEY"),
        "database_url": ("DATABASE_URL", "WATCHKEEPER_DATABASE_URL"),
        "redis_url": ("REDIS_URL", "WATCHKEEPER_REDIS_URL"),
        "redis_password": ("REDIS_PASSWORD", "WATCHKEEPER_REDIS_PASSWORD"),
        "slack_webhook_url": ("SLACK_WEBHOOK_URL", "WATCHKEEPER_SLACK_WEBHOOK_URL"),
    }.items()
}
SECRET_FILE_VARIABLES["observability.metrics_token"] = {
    "WATCHKEEPER_OBSERVABILITY__METRICS_TOKEN": "WATCHKEEPER_METRICS_TOKEN_FILE"
}


def secret_from_environment(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """`VARIABLE`, or the content of the file `VARIABLE_FILE` names; a ConfigError when both
    are set. For variables read outside Settings (`WATCHKEEPER_ADMIN_PASSWORD` of `init`)."""
    env = _environment() if environ is None else environ
    direct, path = env.get(variable), env.get(f"{variable}_FILE")
    if path is None:
        return direct
    if direct is not None:
        raise ConfigError(
            [
                ConfigProblem(
                    f"{variable}_FILE",
                    repr(path),
                    f"{variable} is set too; set the secret or the file that holds it, not both",
                )
            ]
        )
    return _read_secret_file(f"{variable}_FILE", path)


def _read_secret_file(variable: str, path: str) -> str:
    """The file's text less one trailing newline (what `echo secret > file` leaves)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [ConfigProblem(variable, repr(path), f"cannot read the secret file: {exc}")]
        ) from None
    return text.removesuffix("\n").removesuffix("\r")


class SecretFileSource(PydanticBaseSettingsSource):
    """`JWT_SECRET_KEY_FILE=/run/secrets/jwt` and the like: secrets read from files."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = _environment()
        out: dict[str, Any] = {}
        for key, variables in SECRET_FILE_VARIABLES.items():
            files = [f for f in variables.values() if f in env]
            if not files:
                continue
            others = [v for v in variables if v in env] + files[1:]
            if others:
                raise ConfigError(
                    [
                        ConfigProblem(
                            files[0],
                            repr(env[files[0]]),
                            f"{' and '.join(others)} set {key} too; give the secret once",
                        )
                    ]
                )
            section, _, name = key.rpartition(".")
            target = out.setdefault(section, {}) if section else out
            target[name] = _read_secret_file(files[0], env[files[0]])
        return out


def _environment() -> Mapping[str, str]:
    return os.environ


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError([ConfigProblem("config file", str(path), "file not found")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            [ConfigProblem("config file", str(path), f"not valid YAML: {exc}")]
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem("config file", str(path), "must be a mapping of keys to values")]
        )
    return data
