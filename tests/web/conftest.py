"""Browser fixtures: one real `watchkeeper serve` seeded with data, one headless Chromium
(Debian's, never a downloaded one) for the session, and `console` to open pages in it.

Each test gets a fresh browser context (its own sessionStorage, so its own login). The
`Console` helper records console errors, page errors, failed requests and HTTP errors, and
fails the test on any that the test did not declare; it saves a screenshot of every page it
checks to $WATCHKEEPER_ARTIFACTS (or test-artifacts/screenshots/).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from tests.support import ADMIN_PASSWORD, free_port, missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.test_server_process import Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("WATCHKEEPER_ARTIFACTS") or "test-artifacts") / "screenshots"
SEED_GROUP = """
name: web-seed
interval: 1s
rules:
  - alert: SeedDiskFilling
    expr: vector(1)
    labels: {severity: warning}
    annotations: {summary: "seeded alert that always fires"}
"""


@dataclass
class Seeded:
    server: Server
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30)

    def put_group(self, body: str) -> None:
        name = re.search(r"^name: (\S+)", body, re.M)
        assert name is not None
        with self.client() as client:
            response = client.put(
                f"/api/v1/rules/groups/{name.group(1)}",
                content=body,
                headers={"content-type": "application/yaml"},
            )
        assert response.status_code in (200, 201), response.text

    def add_member(self, username: str, tenant: str, role: str) -> None:
        """Add an existing account to another tenant: only the operator's CLI path can (the
        API refuses a taken username), so run that command's function in-process."""
        from watchkeeper.auth.rbac import Role
        from watchkeeper.cli.directory import user_add

        user_add(
            username,
            tenant=tenant,
            role=Role(role),
            password="ignored-for-an-existing-account",
            config=self.server.config,
        )

    def wait_firing(self, alertname: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                alerts = client.get("/api/v1/alerts", params={"state": "firing"}).json()
                if any(a["labels"].get("alertname") == alertname for a in alerts["data"]["alerts"]):
                    return
                time.sleep(0.2)  # polling a real server's evaluator, not waiting out a duration
        raise TimeoutError(f"{alertname} is not firing after {timeout} s")


def _seed(server: Server) -> Seeded:
    with httpx.Client(timeout=30) as client:
        headers = server.login(client)
    seeded = Seeded(server, headers)
    now = time.time()
    start = now - 3600
    points = [start + i * 30 for i in range(121)]

    def wave(base: float, amp: float) -> list[list[float]]:
        return [[t, base + amp * ((i % 20) / 20)] for i, t in enumerate(points)]

    labels = {"instance": "web-1", "job": "node"}
    batch = [
        {"metric": "node_load1", "labels": labels, "samples": wave(1.0, 2.0)},
        {
            "metric": "node_memory_MemTotal_bytes",
            "labels": labels,
            "samples": [[t, 8e9] for t in points],
        },
        {"metric": "node_memory_MemAvailable_bytes", "labels": labels, "samples": wave(3e9, 1e9)},
        {
            "metric": "node_filesystem_size_bytes",
            "labels": {**labels, "mountpoint": "/", "fstype": "ext4", "device": "sda1"},
            "samples": [[t, 1e11] for t in points],
        },
        {
            "metric": "node_filesystem_avail_bytes",
            "labels": {**labels, "mountpoint": "/", "fstype": "ext4", "device": "sda1"},
            "samples": wave(4e10, 1e10),
        },
    ]
    with seeded.client() as client:
        response = client.post("/api/v1/ingest", json=batch)
    assert response.status_code < 300, response.text
    seeded.put_group(SEED_GROUP)
    seeded.wait_firing("SeedDiskFilling")
    return seeded


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    if not CHROMIUM.exists():
        missing("Debian's chromium is not installed at /usr/bin/chromium")
    from tests.test_server_process import Server as RunningServer
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    root = tmp_path_factory.mktemp("web")
    result = initialise(root / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    result.config_file.write_text(yaml.safe_dump(config))
    running = RunningServer(result.config_file, free_port())
    running.start()
    try:
        yield _seed(running)
    finally:
        if running.process is not None and running.process.poll() is None:
            running.kill(signal.SIGTERM)


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the
# main thread while it is started, and any later test calling `asyncio.run` would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing("Debian's chromium is not installed at /usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install playwright; no browser download)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Console:
    """A page in a fresh browser context, with every error it produces recorded."""

    page: Page
    base: str
    name: str
    problems: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Declare an expected failure (e.g. a 400 the test provokes), by regex."""
        self.allowed.append(pattern)

    def _record(self, problem: str) -> None:
        self.problems.append(problem)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.wait_ready()

    def wait_ready(self, page: str | None = None) -> None:
        selector = f'body[data-page="{page}"]' if page else "body[data-ready]"
        self.page.wait_for_selector(selector, state="attached", timeout=20_000)

    def login(
        self,
        username: str = "admin",
        password: str = ADMIN_PASSWORD,
        *,
        tenant: str = "default",  # a test adds admin to a second tenant: then it is needed
        wait: bool = True,
    ) -> None:
        self.wait_ready("login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.fill("input[name=tenant]", tenant)
        self.page.click("form button[type=submit]")
        if not wait:
            return
        # (wait_for_function would eval a string, which our CSP rightly forbids)
        self.page.wait_for_selector(
            'body[data-ready]:not([data-page="login"])', state="attached", timeout=20_000
        )

    def wait_charts(self, count: int) -> None:
        """Until `count` uPlot charts are drawn on the page."""
        self.page.locator(".uplot canvas").nth(count - 1).wait_for(timeout=20_000)

    def check(self, shot: str) -> None:
        """Save a screenshot and fail on any unexpected error seen so far."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        unexpected = [p for p in self.problems if not any(re.search(a, p) for a in self.allowed)]
        assert not unexpected, "browser reported:\n" + "\n".join(unexpected)


@pytest.fixture
def console(
    browser: Browser, web_server: Seeded, request: pytest.FixtureRequest
) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    view = Console(page, web_server.url, request.node.name)

    def on_console(message: Any) -> None:
        if message.type == "error":
            view._record(f"console error: {message.text} at {message.location.get('url', '')}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            view._record(f"HTTP {response.status} {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: view._record(f"page error: {error}"))
    page.on("requestfailed", lambda r: view._record(f"request failed: {r.url} {r.failure}"))
    page.on("response", on_response)
    try:
        yield view
    finally:
        context.close()
