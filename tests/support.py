"""Helpers for tests that need real services, importable as `tests.support`."""

from __future__ import annotations

import os
import shutil
import socket
import time
from typing import Any

import pytest

REQUIRE_SERVICES = os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1"
POSTGRES_DSN = os.environ.get(
    "WATCHKEEPER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("WATCHKEEPER_TEST_REDIS", "redis://127.0.0.1:6379/15")
ADMIN_PASSWORD = "correct-horse-battery-staple"
LOCAL_OUTBOUND_ALLOW = ["127.0.0.0/8", "::1", "localhost"]
"""`security.outbound_allow` for tests whose receivers listen on this machine (the outbound
guard refuses loopback destinations unless the operator allows them)."""


def local_outbound() -> Any:
    """The outbound policy allowing this machine's receivers, for channels built directly."""
    from watchkeeper.notify.outbound import OutboundPolicy

    return OutboundPolicy.parse(LOCAL_OUTBOUND_ALLOW)


def missing(reason: str) -> None:
    """Skip for a missing service, or fail when CI says every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    assert path is not None
    return path


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open("127.0.0.1", port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")
