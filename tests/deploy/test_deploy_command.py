"""`watchkeeper deploy`: checks the machine for the mode, writes the shipped files with the
profile set (generated secrets for compose, none for Kubernetes), prints the next command."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from tests.support import require_binary
from watchkeeper.config import decode_encryption_key

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "watchkeeper" / "deploy_files"
Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks that open a database must not create one in the source tree."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATCHKEEPER_CONFIG", raising=False)


def _no_tools(tmp_path: Path) -> str:
    """A PATH on which no container, compose or Kubernetes tool is found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return str(empty)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubernetes_writes_the_shipped_manifests_and_renders_them(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = run("deploy", "--mode", "kubernetes", "--env", "production", "--out", str(out))
    shipped = {
        p.relative_to(SHIPPED / "kubernetes")
        for p in (SHIPPED / "kubernetes").rglob("*")
        if p.is_file()
    }
    written = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    assert written == shipped
    for relative in shipped:
        assert (out / relative).read_bytes() == (SHIPPED / "kubernetes" / relative).read_bytes()
    assert "ok    render          overlays/production: 11 objects" in result.stdout
    assert f"kubectl apply -k {out}/overlays/production" in result.stdout
    assert "kubectl create secret generic watchkeeper-secrets" in result.stdout


def test_kubernetes_without_kubectl_says_what_is_missing(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = run(
        "deploy",
        "--mode",
        "kubernetes",
        "--out",
        str(out),
        env={"PATH": _no_tools(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert "fail  kubectl         not installed" in result.stdout
    assert "neither kubectl nor kustomize" in result.stdout
    assert "2 check(s) failed: kubectl, kustomize" in result.stderr
    assert not out.exists()


def test_docker_without_tools_stops_unless_told(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "compose"
    path = _no_tools(tmp_path)
    failed = run("deploy", "--mode", "docker", "--out", str(out), env={"PATH": path}, check=False)
    assert failed.returncode == 1
    assert "neither podman nor docker is installed" in failed.stdout
    assert "check(s) failed: container, compose" in failed.stderr
    assert not out.exists()

    result = run(
        "deploy",
        "--mode",
        "docker",
        "--env",
        "staging",
        "--out",
        str(out),
        "--no-checks",
        env={"PATH": path},
    )
    assert "podman-compose up -d" in result.stdout
    for name in ("compose.yaml", "compose.scale-out.yaml"):
        assert (out / name).read_bytes() == (SHIPPED / "compose" / name).read_bytes()
    dotenv = (out / ".env").read_text()
    assert "WATCHKEEPER_PROFILE=staging\n" in dotenv
    assert "WATCHKEEPER_TLS_PROXY=true\n" in dotenv

    # Fresh secrets, consistent with each other, that the profile accepts.
    folder = out / "secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    secret = {p.name: p.read_text().rstrip("\n") for p in folder.iterdir()}
    assert set(secret) == {"postgres_password", "database_url", "jwt_secret_key", "encryption_key"}
    assert f"watchkeeper:{secret['postgres_password']}@postgres:5432" in secret["database_url"]
    assert len(decode_encryption_key(secret["encryption_key"])) == 32
    assert len(secret["jwt_secret_key"]) >= 48

    # Again with --force: the files are replaced, the secrets the stack uses are kept.
    again = run(
        "deploy",
        "--mode",
        "docker",
        "--out",
        str(out),
        "--no-checks",
        "--force",
        env={"PATH": path},
    )
    assert again.returncode == 0
    assert {p.name: p.read_text().rstrip("\n") for p in folder.iterdir()} == secret
    assert "WATCHKEEPER_PROFILE=dev\n" in (out / ".env").read_text()


def test_existing_files_are_not_replaced_without_force(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "compose"
    out.mkdir()
    (out / "compose.yaml").write_text("mine\n")
    result = run(
        "deploy",
        "--mode",
        "docker",
        "--out",
        str(out),
        "--no-checks",
        env={"PATH": _no_tools(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert "compose.yaml exists" in result.stderr
    assert (out / "compose.yaml").read_text() == "mine\n"


def test_standalone_runs_the_doctor_checks_and_writes_a_valid_unit(
    run: Run, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "systemd"
    config = data_dir / "watchkeeper.yaml"
    result = run("deploy", "--mode", "standalone", "--config", str(config), "--out", str(out))
    assert "ok    database        sqlite reachable" in result.stdout
    assert "ok    migrations" in result.stdout
    assert "systemctl enable --now watchkeeper" in result.stdout
    unit = (out / "watchkeeper.service").read_text()
    executable = Path(sys.prefix) / "bin" / "watchkeeper"
    assert f"ExecStart={executable} serve\n" in unit
    assert f"ExecStartPre={executable} doctor --no-port\n" in unit
    assert f"ReadWritePaths={data_dir.resolve()}\n" in unit
    assert f"Environment=WATCHKEEPER_CONFIG={config.resolve()}\n" in unit
    assert "WATCHKEEPER_PROFILE=dev\n" in (out / "watchkeeper.env").read_text()
    analyze = require_binary("systemd-analyze")
    verified = subprocess.run(
        [analyze, "verify", str(out / "watchkeeper.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Unknown keys are only warnings for systemd: any output is a failure here.
    assert (verified.returncode, verified.stdout, verified.stderr) == (0, "", "")


def test_standalone_stops_on_a_failed_check(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "systemd"
    result = run(
        "deploy",
        "--mode",
        "standalone",
        "--out",
        str(out),
        env={"WATCHKEEPER_DATA_DIR": str(tmp_path / "missing")},
        check=False,
    )
    assert result.returncode == 1
    assert "fail  data folder" in result.stdout
    assert "data folder" in result.stderr
    assert not out.exists()


def test_standalone_production_refuses_development_secrets(
    run: Run, data_dir: Path, tmp_path: Path
) -> None:
    config = data_dir / "watchkeeper.yaml"
    result = run(
        "deploy",
        "--mode",
        "standalone",
        "--env",
        "production",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "systemd"),
        env={"JWT_SECRET_KEY": "dev-insecure-jwt-secret-change-me"},
        check=False,
    )
    assert result.returncode == 1
    assert "jwt_secret_key" in result.stderr
    assert not (tmp_path / "systemd").exists()
