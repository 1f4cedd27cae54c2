"""The systemd unit as shipped: systemd accepts it, it restarts on failure, checks before
starting, and is hardened — without the one setting numba's JIT cannot live with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.support import require_binary
from watchkeeper.config import SECRET_FILE_VARIABLES, Settings

SYSTEMD = Path(__file__).resolve().parents[2] / "src" / "watchkeeper" / "deploy_files" / "systemd"


def directives(text: str) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values (systemd keys repeat: ExecStartPre, Environment)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


UNIT = directives((SYSTEMD / "watchkeeper.service").read_text())


def test_the_service_restarts_checks_and_stops_cleanly() -> None:
    service = UNIT["Service"]
    assert service["Type"] == ["exec"]
    assert service["User"] == ["watchkeeper"]
    assert service["Restart"] == ["on-failure"]
    assert service["RestartSec"] == ["5s"]
    assert service["ExecStartPre"] == [
        "/opt/watchkeeper/bin/watchkeeper db upgrade",
        "/opt/watchkeeper/bin/watchkeeper doctor --no-port",
    ]
    assert service["ExecStart"] == ["/opt/watchkeeper/bin/watchkeeper serve"]
    assert "WATCHKEEPER_DATA_DIR=/var/lib/watchkeeper" in service["Environment"]
    assert UNIT["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_service_is_hardened_but_lets_numba_compile() -> None:
    service = UNIT["Service"]
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/watchkeeper",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter": "@system-service",
    }
    for key, value in expected.items():
        assert service[key] == [value], key
    # numba maps JIT-compiled code writable then executable: W^X enforcement would kill it.
    assert service["MemoryDenyWriteExecute"] == ["no"]


def test_the_environment_file_names_real_settings() -> None:
    text = (SYSTEMD / "watchkeeper.env").read_text()
    names = [
        line.lstrip("#").partition("=")[0]
        for line in text.splitlines()
        if "=" in line and line.lstrip("#")[:1].isupper() and " " not in line.partition("=")[0]
    ]
    assert "WATCHKEEPER_PROFILE" in names and "JWT_SECRET_KEY_FILE" in names
    files = {v for variables in SECRET_FILE_VARIABLES.values() for v in variables.values()}
    for name in names:
        if name in files:
            continue
        parts = name.removeprefix("WATCHKEEPER_").lower().split("__")
        model: type[BaseModel] = Settings
        for part in parts[:-1]:
            section = model.model_fields[part].annotation
            assert isinstance(section, type) and issubclass(section, BaseModel), name
            model = section
        assert parts[-1] in model.model_fields, name


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` (it also wants the executables to exist: this installation's)."""
    require_binary("systemd-analyze")  # Debian's systemd, installed by scripts/system-deps.sh
    executable = Path(sys.prefix) / "bin" / "watchkeeper"
    if not executable.exists():
        pytest.skip(f"{executable} is not installed")
    unit = (SYSTEMD / "watchkeeper.service").read_text()
    target = tmp_path / "watchkeeper.service"
    target.write_text(unit.replace("/opt/watchkeeper/bin/watchkeeper", str(executable)))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Unknown keys are only warnings for systemd: any output at all fails here.
    assert (verified.returncode, verified.stdout, verified.stderr) == (0, "", "")
