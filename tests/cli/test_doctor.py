"""`watchkeeper doctor`: every check passes on a fresh install; a busy port, an old schema,
an unreachable Redis or a world-readable data folder are named, and failures exit 1."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.cli.conftest import Result


def _config(data_dir: Path, **changes: object) -> Path:
    path = data_dir / "watchkeeper.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(changes)
    path.write_text(yaml.safe_dump(config))
    return path


def _statuses(result: Result) -> dict[str, str]:
    """Check name -> status, from the fixed columns of each line."""
    return {line[6:20].strip(): line[:4].strip() for line in result.stdout.splitlines() if line}


def test_a_fresh_install_passes_every_check(run: Callable[..., Result], data_dir: Path) -> None:
    os.chmod(data_dir, 0o700)
    result = run("doctor", "--config", str(data_dir / "watchkeeper.yaml"))
    statuses = _statuses(result)
    assert set(statuses) >= {
        "python",
        "dependencies",
        "data folder",
        "database",
        "clock skew",
        "migrations",
        "port",
    }
    assert "fail" not in statuses.values(), result.stdout


def test_failures_are_named_and_exit_non_zero(run: Callable[..., Result], data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = _config(
            data_dir,
            server={"host": "127.0.0.1", "port": port},
            redis_url="redis://127.0.0.1:1/0",
        )
        os.chmod(data_dir, 0o755)
        result = run("doctor", "--config", str(config), check=False)
    assert result.returncode == 1
    statuses = _statuses(result)
    assert statuses["port"] == "fail" and statuses["redis"] == "fail", result.stdout
    assert statuses["data folder"] == "warn"
    assert statuses["database"] == "ok"
    assert "check(s) failed" in result.stderr


def test_an_old_schema_is_a_failure(run: Callable[..., Result], data_dir: Path) -> None:
    config = str(data_dir / "watchkeeper.yaml")
    # A database left at an older revision by an earlier release.
    with sqlite3.connect(data_dir / "watchkeeper.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0008'")
    result = run("doctor", "--config", config, "--no-port", check=False)
    assert result.returncode == 1
    assert _statuses(result)["migrations"] == "fail"
    assert "schema at 0008" in result.stdout
