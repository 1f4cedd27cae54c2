"""Run-time configuration changes: validate whole, persist, then swap and reload workers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from watchkeeper.app_context import AppContext
from watchkeeper.config import (
    ConfigError,
    ConfigProblem,
    Settings,
    apply_patch,
    changed_keys,
    keys_set_by_environment,
    persist_patch,
)
from watchkeeper.wiring import build_workers, configure_regexes, for_roles

# Keys read once at start-up; a change is saved and takes effect on the next restart.
RESTART_KEYS = (
    "profile",
    "data_dir",
    "database_url",
    "database_pool_size",
    "redis_url",
    "redis_password",
    "server",
    "observability",
    "api.docs_enabled",
    "backup.wal_shipping",  # the app's SQLite connections stop auto-checkpointing at start-up
    "security.tls_proxy",  # the security headers are computed once, at start-up
    "security.headers_enabled",
    "security.hsts_max_age_seconds",
)


def _needs_restart(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in RESTART_KEYS)


async def update_config(
    context: AppContext, patch: Mapping[str, Any]
) -> tuple[Settings, list[str], list[str]]:
    """Apply `patch` (a partial settings mapping) or raise ConfigError and change nothing."""
    keys = changed_keys(patch)
    if not keys:
        raise ConfigError(
            [ConfigProblem("(body)", "{}", "give at least one setting to change")],
            "configuration change",
        )
    from_env = keys_set_by_environment(keys)
    if from_env:
        raise ConfigError(
            [
                ConfigProblem(
                    k,
                    "(environment)",
                    "set by an environment variable, which would override the file; change it there",
                )
                for k in from_env
            ],
            "configuration change",
        )
    updated = apply_patch(context.settings, patch)
    target = context.config_file or Path(context.settings.data_dir) / "watchkeeper.yaml"
    persist_patch(target, patch)
    context.config_file = target
    context.settings = updated
    context.auth.reconfigure(updated)
    configure_regexes(updated)
    context.workers = build_workers(context)
    await context.supervisor.replace(for_roles(updated.server.roles, context.workers))
    return updated, keys, [k for k in keys if _needs_restart(k)]
