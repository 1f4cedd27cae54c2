"""Memory of a real `watchkeeper serve` process while it refuses oversized remote_write
requests: RSS before, after each request, and after a pause.

Each request carries one series whose label value is `--label-mb` megabytes (snappy makes the
body about 5 % of that); the receiver answers 400. A leak shows as RSS that climbs with every
request and stays up; bounded caches keep it flat. Also prints each answer's body size.

    PYTHONPATH=src .venv/bin/python bench/ingest_leak.py [--requests 5 --label-mb 50]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import yaml

from watchkeeper.bootstrap import initialise
from watchkeeper.clock import SystemClock
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.ingest.remote_write import encode

PASSWORD = "correct-horse-battery-staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--label-mb", type=float, default=50.0)
    parser.add_argument(
        "--decoded-limit-mb",
        type=int,
        default=None,
        help="security.max_decoded_body_bytes (raise it past the label size to exercise the "
        "label checks rather than the decompressed-size limit; not on versions without it)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = initialise(Path(tmp) / "data", clock=SystemClock(), admin_password=PASSWORD)
        config = yaml.safe_load(result.config_file.read_text())
        config["observability"] = {"access_log": False, "log_level": "warning"}
        config["metrics"] = {"host_collector_enabled": False, "max_body_bytes": 64 * 2**20}
        config["detection"] = {"forecast_enabled": False}
        if args.decoded_limit_mb is not None:
            config["security"] = {"max_decoded_body_bytes": args.decoded_limit_mb * 2**20}
        result.config_file.write_text(yaml.safe_dump(config))
        port = _free_port()
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "watchkeeper"), "serve", "--config",
             str(result.config_file), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=120) as client:
                for _ in range(600):
                    try:
                        if client.get(f"{url}/health/live").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                token = client.post(
                    f"{url}/auth/login", json={"username": "admin", "password": PASSWORD}
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                time.sleep(3)  # let start-up work (warm-up thread) settle
                print(f"RSS before: {_rss_mb(process.pid):.0f} MB")
                for i in range(args.requests):
                    value = "x" * int(args.label_mb * 2**20)
                    series = SeriesSamples(
                        labels_from_dict({"__name__": "leak_probe", "job": f"{i}{value}"}),
                        np.array([int(time.time() * 1000)], np.int64),
                        np.array([1.0]),
                    )
                    body = encode([series])
                    del value, series
                    answer = client.post(f"{url}/api/v1/write", content=body, headers=headers)
                    print(
                        f"request {i + 1}: body {len(body) / 2**20:.2f} MB -> "
                        f"{answer.status_code}, answer {len(answer.content)} bytes, "
                        f"RSS {_rss_mb(process.pid):.0f} MB"
                    )
                time.sleep(3)
                print(f"RSS after a 3 s pause: {_rss_mb(process.pid):.0f} MB")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


if __name__ == "__main__":
    main()
