"""The Dockerfile, built and run with podman: the image builds offline from a Debian base made
here (debootstrap, `podman import`) and a wheelhouse, starts as a non-root user, passes its own
HEALTHCHECK, answers the quick start, collects host metrics, and keeps its data across a
container restart. Skips without podman/runc/debootstrap (fails in CI, which installs them).

podman on this kind of machine needs runc (crun refuses the hybrid cgroup layout) and rlimits
no higher than the sandbox's own (`--ulimit`); both are passed explicitly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, require_binary

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/watchkeeper-test-base:bookworm"
IMAGE = "localhost/watchkeeper:test"
ROOTFS_CACHE = Path("/var/tmp/watchkeeper-test-base")
PASSWORD = "container-password-0123456789"
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


def podman(*args: str, timeout: float = 900, check: bool = True) -> str:
    result = subprocess.run(
        ["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {result.stderr[-3000:]}")
    return result.stdout


def _base_image() -> None:
    """Debian bookworm with python3 and venv, from Debian's mirror (no image registry here)."""
    if subprocess.run(["podman", "image", "exists", BASE_IMAGE]).returncode == 0:
        return
    debootstrap = require_binary("debootstrap")
    rootfs = ROOTFS_CACHE / "rootfs"
    if not (rootfs / "usr/bin/python3").exists():
        shutil.rmtree(ROOTFS_CACHE, ignore_errors=True)
        ROOTFS_CACHE.mkdir(parents=True)
        subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
                "http://deb.debian.org/debian",
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        ["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True, capture_output=True
    )
    tar.wait(60)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    require_binary("podman")
    require_binary("runc")
    _base_image()
    context = tmp_path_factory.mktemp("context")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = ROOT / name
        if name.startswith("tests/") or not source.is_file():
            continue
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, context / name)
    wheels = context / ".wheels"
    pip = [sys.executable, "-m", "pip"]
    # The image's Python (Debian's 3.11.2) needs async-timeout, which ours (3.11.7) does not.
    for requirement in ([str(context)], ["hatchling>=1.25", "async-timeout>=4.0.3"]):
        subprocess.run(
            [*pip, "wheel", "-q", "--wheel-dir", str(wheels), *requirement],
            check=True,
            capture_output=True,
            timeout=900,
        )
    podman(
        "build",
        "--format",
        "docker",  # OCI images drop HEALTHCHECK
        *LIMITS,
        "--build-arg",
        f"BASE={BASE_IMAGE}",
        "--build-arg",
        "PIP_OPTIONS=--no-index --find-links /src/.wheels",
        "-t",
        IMAGE,
        str(context),
        timeout=1800,
    )
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, str]]:
    name = f"wk-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    port = free_port()
    podman(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        *LIMITS,
        "-e",
        f"WATCHKEEPER_SERVER__PORT={port}",
        "-e",
        "WATCHKEEPER_METRICS__COLLECTION_INTERVAL=1",
        "-e",
        f"WATCHKEEPER_ADMIN_PASSWORD={PASSWORD}",
        "-v",
        f"{volume}:/data",
        image,
    )
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        podman("rm", "-f", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)


def _ready(url: str, name: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(podman("logs", name, check=False)[-3000:])


def _login(url: str) -> dict[str, str]:
    response = httpx.post(
        f"{url}/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _value(url: str, headers: dict[str, str], query: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": query}, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, object]] = answer.json()["data"]["result"]
    return result


def test_the_image_runs_as_non_root_answers_and_keeps_its_data(container: tuple[str, str]) -> None:
    name, url = container
    _ready(url, name)
    assert podman("exec", name, "id", "-u").strip() == "10001"
    assert podman("exec", name, "stat", "-c", "%a", "/data").strip() == "700"
    podman("healthcheck", "run", name)  # exit 0: the image's own HEALTHCHECK passes
    logs = podman("logs", name)
    assert "ok    migrations" in logs  # the entrypoint's doctor ran before serving

    headers = _login(url)
    deadline = time.monotonic() + 60
    while not _value(url, headers, "node_load1") and time.monotonic() < deadline:
        time.sleep(1)
    assert _value(url, headers, "node_load1"), "the host collector wrote nothing"
    now = time.time()
    written = httpx.post(
        f"{url}/api/v1/ingest",
        json=[{"metric": "container_probe", "labels": {"k": "v"}, "samples": [[now, 42]]}],
        headers=headers,
        timeout=30,
    )
    assert written.status_code == 200, written.text

    podman("restart", "--time", "30", name)
    _ready(url, name)
    headers = _login(url)  # the generated secrets and the admin survived too
    (probe,) = _value(url, headers, "container_probe")
    assert probe["value"] == [probe["value"][0], "42"]  # type: ignore[index]
