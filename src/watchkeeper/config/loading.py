"""Start-up: build the Settings from file and environment, and check them for the profile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watchkeeper.config.problems import ConfigError, problems_from_validation
from watchkeeper.config.profile import check_profile
from watchkeeper.config.settings import Settings
from watchkeeper.config.sources import read_yaml, yaml_data


def load_settings(
    config_file: Path | None = None,
    *,
    env_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate the Settings; raise ConfigError listing every problem."""
    data = read_yaml(config_file) if config_file is not None else {}
    token = yaml_data.set(data)
    try:
        settings = Settings(_env_file=env_file, **dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(
            problems_from_validation(exc), str(config_file or "configuration")
        ) from exc
    finally:
        yaml_data.reset(token)
    problems = check_profile(settings)
    if problems:
        raise ConfigError(problems, f"{settings.profile} configuration")
    return settings
