"""Fixtures for the CLI tests: the entry point run in-process, an initialised data folder."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ADMIN_PASSWORD


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    from watchkeeper.cli.main import main

    def invoke(*args: str, env: dict[str, str] | None = None, check: bool = True) -> Result:
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            patch.setattr(sys, "argv", ["watchkeeper", *args])
            capsys.readouterr()
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            out, err = capsys.readouterr()
        if check:
            assert code == 0, err
        return Result(code, out, err)

    return invoke


@pytest.fixture
def data_dir(tmp_path: Path, run: Callable[..., Result]) -> Path:
    target = tmp_path / "wk"
    result = run(
        "init",
        env={"WATCHKEEPER_DATA_DIR": str(target), "WATCHKEEPER_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    assert "tenant: default   user: admin" in result.stdout
    return target
