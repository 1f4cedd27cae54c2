"""Run-time changes (`PUT /admin/config`): a new validated Settings, saved to the YAML file.

A change is validated whole before anything uses it, so it is applied completely or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, SecretStr, ValidationError

from watchkeeper.config.problems import ConfigError, problems_from_validation
from watchkeeper.config.profile import check_profile
from watchkeeper.config.settings import Settings
from watchkeeper.config.sources import SECRET_FILE_VARIABLES, read_yaml


def deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _plain(settings: Settings) -> dict[str, Any]:
    """The settings as data with secrets revealed, for re-validation after a change."""
    data = settings.model_dump(mode="python")

    def reveal(obj: Any) -> Any:
        if isinstance(obj, SecretStr):
            return obj.get_secret_value()
        if isinstance(obj, dict):
            return {k: reveal(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [reveal(v) for v in obj]
        return obj

    result: dict[str, Any] = reveal(data)
    return result


def changed_keys(patch: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            keys.extend(changed_keys(value, path + "."))
        else:
            keys.append(path)
    return keys


def apply_patch(settings: Settings, patch: Mapping[str, Any]) -> Settings:
    """A new validated Settings with `patch` merged in; the old one is untouched on any error.

    This is `update_config(section, values)` of the product brief: `{"metrics": {...}}`.
    """
    merged = deep_merge(_plain(settings), patch)
    try:
        updated = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc), "configuration change") from exc
    problems = check_profile(updated)
    if problems:
        raise ConfigError(problems, "configuration change")
    return updated


def persist_patch(config_file: Path, patch: Mapping[str, Any]) -> None:
    """Merge `patch` into the YAML file atomically (write a temporary file, then rename)."""
    current = read_yaml(config_file) if config_file.exists() else {}
    merged = deep_merge(current, patch)
    tmp = config_file.with_suffix(config_file.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    # Owner-only from its creation: the file holds the signing and encryption secrets.
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(yaml.safe_dump(merged, sort_keys=False))
    tmp.replace(config_file)


def keys_set_by_environment(keys: list[str]) -> list[str]:
    """Which of these dotted keys the environment sets (and would override after a restart)."""
    env = {name.upper() for name in os.environ}
    found = []
    for key in keys:
        parts = key.split(".")
        names = {"WATCHKEEPER_" + "__".join(parts).upper()}
        if len(parts) == 1:
            field = Settings.model_fields.get(parts[0])
            alias = field.validation_alias if field is not None else None
            if isinstance(alias, AliasChoices):
                names |= {str(choice).upper() for choice in alias.choices if str(choice).isupper()}
        else:
            names.add("WATCHKEEPER_" + parts[0].upper())
        names |= set(SECRET_FILE_VARIABLES.get(key, {}).values())  # JWT_SECRET_KEY_FILE, ...
        if names & env:
            found.append(key)
    return found
