"""`watchkeeper demo` and `demo --remove` from the command line, on an initialised folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from watchkeeper.config import load_settings
from watchkeeper.store.embedded.store import EmbeddedStore


@pytest.mark.slow
def test_demo_loads_once_refuses_a_held_store_and_is_removed(
    data_dir: Path, run: Callable[..., Result]
) -> None:
    config = str(data_dir / "watchkeeper.yaml")
    store = EmbeddedStore(load_settings(Path(config)).effective_storage_path)
    try:  # as a running server holds it
        held = run("demo", "--config", config, check=False)
    finally:
        store.close()
    assert held.returncode == 1
    assert "stop the server" in held.stderr

    loaded = run("demo", "--hours", "1", "--config", config)
    assert "demo loaded into tenant `demo`" in loaded.stdout
    assert "HighErrorRate{checkout}" in loaded.stdout
    again = run("demo", "--config", config, check=False)
    assert again.returncode == 1 and "already loaded" in again.stderr

    assert "demo tenant removed" in run("demo", "--remove", "--config", config).stdout
    assert "no demo tenant" in run("demo", "--remove", "--config", config).stdout
