"""`watchkeeper silence add|list|expire` against an initialised data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Result


def test_add_list_expire(data_dir: Path, run: Callable[..., Result]) -> None:
    config = str(data_dir / "watchkeeper.yaml")
    added = run(
        "silence",
        "add",
        'alertname="DiskFull"',
        'host=~"db-.*"',
        "-m",
        "disk swap",
        "--duration",
        "2h",
        "--author",
        "ops",
        "--config",
        config,
    )
    sid = added.stdout.strip()
    listed = run("silence", "list", "--state", "active", "--config", config).stdout
    assert sid in listed and '{alertname="DiskFull", host=~"db-.*"}' in listed and "ops" in listed
    assert run("silence", "expire", sid, "--config", config).stdout.strip() == f"expired {sid}"
    assert run("silence", "list", "--state", "active", "--config", config).stdout == ""
    assert "expired" in run("silence", "list", "--config", config).stdout
    again = run("silence", "expire", sid, "--config", config, check=False)
    assert again.returncode == 1 and "already expired" in again.stderr
    bad = run("silence", "add", 'job=~".*"', "-m", "x", "--config", config, check=False)
    assert bad.returncode == 1 and "empty string" in bad.stderr
