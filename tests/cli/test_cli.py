"""The `watchkeeper` command. Most tests call its entry point in-process (same code path
as the installed script, minus interpreter start-up); a few run the real executable."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from tests.support import ADMIN_PASSWORD

BIN = Path(sys.executable).parent / "watchkeeper"


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_init_generates_secrets_and_a_one_time_password(tmp_path: Path) -> None:
    result = run_process("init", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip().splitlines()[-1]
    assert len(password) >= 16 and " " not in password
    config = (tmp_path / "d" / "watchkeeper.yaml").read_text()
    assert "jwt_secret_key" in config and "dev-insecure" not in config
    assert oct((tmp_path / "d" / "watchkeeper.yaml").stat().st_mode)[-3:] == "600"
    again = run_process("init", "--data-dir", str(tmp_path / "d"))
    assert (
        again.returncode == 1 and again.stderr.startswith("error: ") and "already" in again.stderr
    )
    assert len(again.stderr.strip().splitlines()) == 1


def test_apikey_create_prints_the_key_alone_on_the_last_line(
    data_dir: Path, run: Callable[..., Result]
) -> None:
    config = str(data_dir / "watchkeeper.yaml")
    process = run_process(
        "apikey", "create", "--tenant", "default", "--scope", "ingest,read", "--config", config
    )
    assert process.returncode == 0, process.stderr
    key = process.stdout.rstrip("\n").splitlines()[-1]
    assert key.startswith("wk_") and " " not in key
    listed = run("apikey", "list", "--config", config).stdout
    assert "ingest,read" in listed and key not in listed
    key_id = listed.split("\t")[0]
    assert "revoked" in run("apikey", "revoke", key_id, "--config", config).stdout


def test_tenant_and_user_commands(data_dir: Path, run: Callable[..., Result]) -> None:
    config = str(data_dir / "watchkeeper.yaml")
    run("tenant", "add", "acme", "--config", config)
    assert "acme" in run("tenant", "list", "--config", config).stdout
    run(
        "user",
        "add",
        "alice",
        "--tenant",
        "acme",
        "--role",
        "editor",
        "--config",
        config,
        env={"WATCHKEEPER_USER_PASSWORD": ADMIN_PASSWORD},
    )
    assert "alice\teditor" in run("user", "list", "--tenant", "acme", "--config", config).stdout
    run(
        "user",
        "passwd",
        "alice",
        "--tenant",
        "acme",
        "--config",
        config,
        env={"WATCHKEEPER_USER_PASSWORD": "another-long-password"},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apikey", "create", "--scope", "root"], "unknown scope 'root'"),
        (["tenant", "add", "Not Valid"], "tenant name"),
        (["user", "list", "--tenant", "nope"], "tenant 'nope' not found"),
        (["user", "add", "bob", "--password", "short"], "at least 12"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    data_dir: Path, args: list[str], message: str, run: Callable[..., Result]
) -> None:
    result = run(*args, "--config", str(data_dir / "watchkeeper.yaml"), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_config_validate_and_show(
    data_dir: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    good = run("config", "validate", str(data_dir / "watchkeeper.yaml"))
    assert "valid" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  retention_days: -1\n")
    result = run("config", "validate", str(bad), check=False)
    assert (
        result.returncode == 1
        and "metrics.retention_days" in result.stderr
        and "-1" in result.stderr
    )
    shown = run("config", "show", "--config", str(data_dir / "watchkeeper.yaml")).stdout
    assert "jwt_secret_key: '********'" in shown


def test_db_upgrade_is_idempotent(data_dir: Path, run: Callable[..., Result]) -> None:
    from watchkeeper.db.migrate import head_revision

    output = run("db", "upgrade", "--config", str(data_dir / "watchkeeper.yaml")).stdout
    assert f"revision {head_revision()}" in output


def test_audit_verify(data_dir: Path, run: Callable[..., Result]) -> None:
    assert "intact" in run("audit", "verify", "--config", str(data_dir / "watchkeeper.yaml")).stdout


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["init"],
        ["config"],
        ["config", "validate"],
        ["db", "upgrade"],
        ["user", "add"],
        ["tenant", "list"],
        ["apikey", "create"],
        ["audit", "verify"],
        ["demo"],
    ],
)
def test_help_is_useful_everywhere(command: list[str], run: Callable[..., Result]) -> None:
    result = run(*command, "--help")
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 5


def test_bench_nab_runs_on_any_folder_of_the_nab_layout(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    import json

    data = tmp_path / "nab"
    (data / "data" / "synthetic").mkdir(parents=True)
    rows = ["timestamp,value"]
    windows = []
    for i in range(600):
        stamp = f"2026-01-{1 + i // 288:02d} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00"
        value = 10.0 + (i % 7) * 0.1 + (80.0 if 450 <= i < 460 else 0.0)
        rows.append(f"{stamp},{value}")
        if i == 440:
            windows.append(stamp)
        if i == 470:
            windows.append(stamp)
    (data / "data" / "synthetic" / "spike.csv").write_text("\n".join(rows) + "\n")
    (data / "combined_windows.json").write_text(
        json.dumps({"synthetic/spike.csv": [[f"{windows[0]}.000000", f"{windows[1]}.000000"]]})
    )
    report = tmp_path / "report.json"
    result = run(
        "bench", "nab", "--data", str(data), "--out", str(tmp_path / "out"), "--json", str(report)
    )
    assert "standard" in result.stdout
    scored = json.loads(report.read_text())
    assert scored
    written = list((tmp_path / "out").rglob("*.csv"))
    assert (
        written
        and written[0].read_text().splitlines()[0] == "timestamp,value,anomaly_score,is_anomaly"
    )


def test_serve_refuses_an_unknown_role(run: Callable[..., Result]) -> None:
    result = run("serve", "--roles", "api,cron", check=False)
    assert result.returncode != 0 and "unknown role cron" in result.stderr
