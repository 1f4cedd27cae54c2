"""Web console benchmark: time to first render in Chromium, and bytes of JS/CSS shipped.

Starts a real `watchkeeper serve` (host collector off), seeds an hour of node_* series and one
firing alert, and drives Debian's /usr/bin/chromium with Playwright (no browser download).

(a) `overview`: from navigation start to the shell's `performance.mark("wk:rendered:/")`
    (every panel's first data and the three host charts drawn), already logged in.
    `cold`: a new browser context per run (empty cache); `warm`: reloads in one context.
    Anchor, same run: the login page (`wk:rendered:login`: shell and modules, no API call).
(b) `chart`: `ctx.chart()` of one 10,000-point series, from the call to the next animation
    frame after it returns (uPlot draws on creation); anchor: bare `new uPlot()` with the
    same data and options-equivalent defaults. Aim: < 200 ms.
(c) `bytes`: every .js and .css file under web/static (what the overview loads), raw and
    gzip -6 (what a compressing proxy sends; the app itself does not compress). Aim: < 300 KB
    compressed.

    .venv/bin/python bench/ui.py [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from watchkeeper.bootstrap import initialise
from watchkeeper.clock import SystemClock

PASSWORD = "correct-horse-battery-staple"
STATIC = Path(__file__).resolve().parents[1] / "src" / "watchkeeper" / "web" / "static"
CHROMIUM = "/usr/bin/chromium"
ALERT_GROUP = """
name: bench
interval: 1s
rules:
  - alert: BenchAlert
    expr: vector(1)
    labels: {severity: warning}
"""

CHART_JS = """async ([base, n, bare]) => {
  const { chart } = await import(base + "/chart.js");
  const el = document.createElement("div");
  el.style.width = "1200px";
  document.body.appendChild(el);
  const t0 = Math.floor(Date.now() / 1000) - n;
  const points = Array.from({ length: n }, (_, i) => [t0 + i, Math.sin(i / 50) + Math.random()]);
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  await frame();
  const start = performance.now();
  let made;
  if (bare) {
    const data = [points.map((p) => p[0]), points.map((p) => p[1])];
    made = new window.uPlot({ width: 1200, height: 300, series: [{}, { stroke: "red" }] }, data, el);
  } else {
    made = chart(el, { series: [{ label: "bench", points }], height: 300 });
  }
  const built = performance.now() - start;
  await frame();
  const total = performance.now() - start;
  made.destroy();
  el.remove();
  return { built, total };
}"""


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    result = initialise(root / "data", clock=SystemClock(), admin_password=PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    result.config_file.write_text(yaml.safe_dump(config))
    binary = Path(sys.executable).parent / "watchkeeper"
    process = subprocess.Popen(
        [str(binary), "serve", "--config", str(result.config_file), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server did not start")


def seed(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        token = client.post("/auth/login", json={"username": "admin", "password": PASSWORD})
        client.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        now = time.time()
        ts = [now - 3600 + 30 * i for i in range(121)]
        labels = {"instance": "bench", "job": "node"}
        fs = {**labels, "mountpoint": "/", "fstype": "ext4", "device": "sda1"}
        batch = [
            {
                "metric": "node_load1",
                "labels": labels,
                "samples": [[t, 1 + i % 7] for i, t in enumerate(ts)],
            },
            {
                "metric": "node_memory_MemTotal_bytes",
                "labels": labels,
                "samples": [[t, 8e9] for t in ts],
            },
            {
                "metric": "node_memory_MemAvailable_bytes",
                "labels": labels,
                "samples": [[t, 3e9] for t in ts],
            },
            {
                "metric": "node_filesystem_size_bytes",
                "labels": fs,
                "samples": [[t, 1e11] for t in ts],
            },
            {
                "metric": "node_filesystem_avail_bytes",
                "labels": fs,
                "samples": [[t, 4e10] for t in ts],
            },
        ]
        assert client.post("/api/v1/ingest", json=batch).status_code < 300
        response = client.put(
            "/api/v1/rules/groups/bench",
            content=ALERT_GROUP,
            headers={"content-type": "application/yaml"},
        )
        assert response.status_code in (200, 201), response.text


def mark(page: Any, name: str) -> float:
    page.wait_for_selector(f'body[data-page="{name}"]', state="attached", timeout=30_000)
    entries = page.evaluate(
        f"performance.getEntriesByName('wk:rendered:{name}').map(e => e.startTime)"
    )
    return float(entries[-1])


def bytes_shipped() -> dict[str, int]:
    files = [p for p in STATIC.rglob("*") if p.suffix in (".js", ".css")]
    raw = sum(p.stat().st_size for p in files)
    compressed = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return {"files": len(files), "raw_bytes": raw, "gzip_bytes": compressed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = 18000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), port)
        try:
            seed(url)
            results = run(url, args.runs, sync_playwright)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    results["bytes"] = bytes_shipped()
    results["date"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    results["load_average"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ui.json").write_text(json.dumps(results, indent=2))


def run(url: str, runs: int, sync_playwright: Any) -> dict[str, Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        # log in once; later contexts start with the same session in sessionStorage
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{url}/ui/")
        mark(page, "login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        mark(page, "/")
        stored = page.evaluate("sessionStorage.getItem('watchkeeper.session')")
        build = page.evaluate("document.querySelector('meta[name=wk-build]').content")
        warm = []
        for _ in range(runs):
            page.reload()
            warm.append(mark(page, "/"))
        chart, bare = [], []
        base = f"{url}/ui/static/{build}"
        for _ in range(runs):
            chart.append(page.evaluate(CHART_JS, [base, 10_000, False]))
            bare.append(page.evaluate(CHART_JS, [base, 10_000, True]))
        context.close()

        cold, login = [], []
        for _ in range(runs):
            fresh = browser.new_context(viewport={"width": 1280, "height": 800})
            anon = fresh.new_page()
            anon.goto(f"{url}/ui/")
            login.append(mark(anon, "login"))
            fresh.close()
            fresh = browser.new_context(viewport={"width": 1280, "height": 800})
            fresh.add_init_script(
                f"sessionStorage.setItem('watchkeeper.session', {json.dumps(stored)})"
            )
            page = fresh.new_page()
            page.goto(f"{url}/ui/")
            cold.append(mark(page, "/"))
            fresh.close()
        browser.close()

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    return {
        "runs": runs,
        "overview_cold_ms": med(cold),
        "overview_warm_ms": med(warm),
        "login_page_cold_ms (anchor)": med(login),
        "overview_cold_vs_login": round(statistics.median(cold) / statistics.median(login), 2),
        "chart_10k_total_ms": med([c["total"] for c in chart]),
        "chart_10k_construct_ms": med([c["built"] for c in chart]),
        "bare_uplot_10k_total_ms (anchor)": med([b["total"] for b in bare]),
        "chart_vs_bare_uplot": round(
            statistics.median([c["total"] for c in chart])
            / statistics.median([b["total"] for b in bare]),
            2,
        ),
        "all": {"cold": cold, "warm": warm, "login": login, "chart": chart, "bare": bare},
    }


if __name__ == "__main__":
    main()
