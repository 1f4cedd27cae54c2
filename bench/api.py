"""HTTP throughput and latency of Watchkeeper beside a bare FastAPI app, measured with wrk.

    python bench/api.py [--duration 10] [--connections 64] [--server uvicorn|granian] [--workers 1]

Each target runs under the same ASGI server with the same settings, one after the other in
this run, and the ratio to the bare app is what counts (the machine is shared and noisy).
Results: printed as a Markdown table and written to bench/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def start_hello(server: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    if server == "granian":
        cmd = [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-log",
            "hello_app:app",
        ]
    else:
        cmd = [
            str(BIN / "uvicorn"),
            "hello_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    return subprocess.Popen(
        cmd, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def start_watchkeeper(
    data: Path, server: str, workers: int, port: int, access_log: bool
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WATCHKEEPER_SERVER__SERVER": server,
        "WATCHKEEPER_SERVER__WORKERS": str(workers),
        "WATCHKEEPER_OBSERVABILITY__ACCESS_LOG": "true" if access_log else "false",
        "WATCHKEEPER_OBSERVABILITY__LOG_LEVEL": "warning",
        # One token at ~11k req/s is far above the per-principal read limit (1000/s); the
        # limiter still runs (its cost is part of the figure) but never refuses.
        "WATCHKEEPER_SECURITY__RATE_LIMITS__READS_PER_SECOND": "1000000",
        "WATCHKEEPER_SECURITY__RATE_LIMITS__READS_BURST": "1000000",
    }
    cmd = [
        str(BIN / "watchkeeper"),
        "serve",
        "--config",
        str(data / "watchkeeper.yaml"),
        "--port",
        str(port),
    ]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def login(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/login",
        data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return str(json.load(response)["access_token"])


def wrk(
    url: str, duration: int, connections: int, threads: int, headers: dict[str, str]
) -> dict[str, float]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "-s",
        str(HERE / "wrk_report.lua"),
    ]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    output = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    report = json.loads(output.strip().splitlines()[-1])
    return {
        "rps": report["requests"] / (report["duration_us"] / 1e6),
        "p50_ms": report["p50_us"] / 1000,
        "p95_ms": report["p95_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "errors": report["errors"] + report["non2xx"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--access-log", action="store_true", help="keep Watchkeeper's per-request log line on"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "api.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package wrk; scripts/system-deps.sh installs it)")

    rounds: list[dict[str, dict[str, float]]] = []
    hello_port = free_port()
    hello = start_hello(args.server, args.workers, hello_port)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        subprocess.run(
            [
                str(BIN / "watchkeeper"),
                "init",
                "--data-dir",
                str(data),
                "--admin-password",
                PASSWORD,
            ],
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = start_watchkeeper(data, args.server, args.workers, port, args.access_log)
        try:
            wait_ready(f"http://127.0.0.1:{hello_port}/hello")
            wait_ready(f"http://127.0.0.1:{port}/health/live")
            auth = {"Authorization": f"Bearer {login(port)}"}
            base = f"http://127.0.0.1:{port}"
            targets = [
                ("bare FastAPI GET /hello", f"http://127.0.0.1:{hello_port}/hello", {}),
                ("Watchkeeper GET /health/live", f"{base}/health/live", {}),
                ("Watchkeeper GET /system/status (JWT)", f"{base}/system/status", auth),
            ]
            for _, url, headers in targets:  # warm-up
                wrk(url, 2, args.connections, args.threads, headers)
            # Interleaved rounds: load from other processes on this shared machine hits
            # every target alike, and the per-round ratio cancels most of it.
            for _ in range(args.rounds):
                rounds.append(
                    {
                        name: wrk(url, args.duration, args.connections, args.threads, headers)
                        for name, url, headers in targets
                    }
                )
        finally:
            stop(server)
            stop(hello)

    results = {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in rounds[0]
    }
    ratios = {
        name: statistics.median(
            r[name]["rps"] / r["bare FastAPI GET /hello"]["rps"] for r in rounds
        )
        for name in rounds[0]
    }
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n{stamp}, {platform.node()}, {os.cpu_count()} cores, server={args.server} workers={args.workers} "
        f"access_log={args.access_log}, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{args.rounds} interleaved rounds, medians\n"
    )
    print("| target | req/s | vs bare FastAPI | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rps']:.0f} | {ratios[name]:.2f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']:.0f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "date": stamp,
                "server": args.server,
                "workers": args.workers,
                "access_log": args.access_log,
                "results": results,
                "ratios": ratios,
                "rounds": rounds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
