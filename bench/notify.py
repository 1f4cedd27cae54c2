"""Notification delivery benchmark: outbox throughput, and ingest -> webhook latency.

(a) `throughput`: N outbox rows (direct webhook messages, N=2000 by default) enqueued in one
    transaction into a migrated SQLite file (or --database-url), then drained by one
    `DeliveryWorker` (system clock, batch 200, --concurrency, default 8) to a local webhook
    receiver in a subprocess (uvicorn + httptools, a bare ASGI app that counts).
    Figure: N / (last outcome recorded - start of enqueue). Target: >= 500 notifications/s.
(b) `latency`: a real `watchkeeper serve` with shortened intervals (rule group 0.25 s,
    dispatch 0.05 s, group_wait 0, delivery poll 0.05 s); --alerts anomalous samples (one
    series each) are ingested over HTTP 50 ms apart; a threshold rule (`for: 0`) fires for
    each, the dispatcher routes it (group_by ['...']: one group per alert) to the receiver
    "default" (a webhook, Alertmanager body), and the delivery worker posts it. Latency:
    receiver arrival - ingest request start, per alert. p50/p99, and split at the alert's
    startsAt (the evaluation that fired it). Target: p99 < 2 s.

    .venv/bin/python bench/notify.py [--count 2000] [--alerts 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-0123456789"
sys.path.insert(0, str(ROOT))


def receiver_server(on_post: Any) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # http.server writes headers and body separately; with Nagle on, the body waits for
        # the client's delayed ACK (40 ms per request), which would measure TCP, not us.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            on_post(time.time(), body)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:
            payload = json.dumps(getattr(self.server, "stats", {})).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def serve_counting_receiver(port: int) -> None:
    """Subprocess mode: a uvicorn (httptools) ASGI app that counts POSTs; GET answers
    {count, last}. The receiver must not be what limits the figure."""
    import uvicorn

    stats = {"count": 0, "last": 0.0}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            stats["count"] += 1
            stats["last"] = time.time()
            body = b"ok"
        else:
            body = json.dumps(stats).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http="httptools")


def throughput(
    count: int, database_url: str | None, concurrency: int = 8, chunk_size: int = 2000
) -> dict[str, Any]:
    import anyio

    from tests.support import free_port, wait_for_port
    from watchkeeper.clock import SystemClock
    from watchkeeper.config import load_settings
    from watchkeeper.db import migrate
    from watchkeeper.db.engine import build_engine
    from watchkeeper.notify.delivery import DeliveryWorker
    from watchkeeper.notify.outbox import OutboxMessage, enqueue
    from watchkeeper.notify.receivers import ReceiverStore
    from watchkeeper.tenancy.scope import SessionFactory
    from watchkeeper.tenancy.service import create_tenant

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-receiver", str(port)])
    try:
        wait_for_port(port)
        folder = Path(tempfile.mkdtemp(prefix="wk-bench-notify-"))
        url = database_url or f"sqlite:///{folder / 'meta.db'}"
        settings = load_settings(
            overrides={
                "encryption_key": "q2y5l2oQ1FQk8cR0o3aJt6vYB4wN9mZx7eL1pH3sK0U=",
                # The receiver runs on this machine: allow loopback past the outbound guard.
                "security": {"outbound_allow": ["127.0.0.0/8"]},
                "notifications": {
                    "rate_limit_per_recipient": 0,
                    "dedup_window_seconds": 0,
                    "concurrency": concurrency,
                },
            }
        )
        engine = build_engine(settings, url=url)
        migrate.upgrade(engine)
        sessions = SessionFactory(engine)
        clock = SystemClock()
        store = ReceiverStore.from_settings(settings)
        with sessions.system("bench") as db:
            tenant = create_tenant(db, name=f"bench-{int(time.time())}", now=clock.now()).id
        with sessions.tenant(tenant) as db:
            store.create(
                db,
                "default",
                [{"type": "webhook", "config": {"url": f"http://127.0.0.1:{port}/hook"}}],
                clock.now(),
            )
        worker = DeliveryWorker(
            sessions=sessions, clock=clock, settings=settings.notifications, receivers=store
        )
        enqueued = 0.0

        def produce() -> None:
            # Written first, then drained: on SQLite a producer writing beside the worker
            # makes both wait on the database lock (measured: 250/s instead of 380/s).
            nonlocal enqueued
            for chunk in range(0, count, chunk_size):
                with sessions.tenant(tenant) as db:
                    now = clock.now()
                    for n in range(chunk, min(chunk + chunk_size, count)):
                        enqueue(
                            db,
                            OutboxMessage(
                                idempotency_key=f"bench-{n}",
                                channel="webhook",
                                payload={"alert": {"name": f"Bench{n}", "status": "firing"}},
                            ),
                            now,
                        )
            enqueued = time.perf_counter() - started

        async def run() -> None:
            while await worker.drain():
                pass
            await worker.aclose()

        started = time.perf_counter()
        produce()
        anyio.run(run)
        elapsed = time.perf_counter() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/count") as answer:
            stats = json.loads(answer.read())
        counts = worker.sample_queue()
        engine.dispose()
        return {
            "database": url.split(":", 1)[0],
            "notifications": count,
            "received": stats["count"],
            "statuses": counts,
            "enqueue_seconds": round(enqueued, 3),
            "total_seconds": round(elapsed, 3),
            "per_second": round(count / elapsed, 1),
            "concurrency": concurrency,
            "rows_per_enqueue_transaction": chunk_size,
        }
    finally:
        proc.terminate()
        proc.wait(10)


def _request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
        return json.loads(raw) if raw else None


def _p50_p99(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [round(v, 3) for v in values]
    q = statistics.quantiles(values, n=100)
    return [round(statistics.median(values), 3), round(q[98], 3)]


def latency(alerts: int) -> dict[str, Any]:
    from datetime import datetime

    from tests.support import free_port, wait_for_port
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    arrivals: dict[str, float] = {}
    fired: dict[str, float] = {}
    lock = threading.Lock()

    def on_post(at: float, body: bytes) -> None:
        for alert in json.loads(body).get("alerts", []):
            key = alert["labels"].get("i")
            if key is not None and alert["status"] == "firing":
                with lock:
                    arrivals.setdefault(key, at)
                    starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
                    fired.setdefault(key, starts.timestamp())

    receiver = receiver_server(on_post)
    threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True).start()
    folder = Path(tempfile.mkdtemp(prefix="wk-bench-e2e-"))
    result = initialise(folder / "data", clock=SystemClock(), admin_password=PASSWORD)
    handling = folder / "handling.yaml"
    handling.write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "default",
                    "group_by": ["..."],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "4h",
                },
                "receivers": [{"name": "default"}],
            }
        )
    )
    config = yaml.safe_load(result.config_file.read_text())
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config["enable_anomaly_detection"] = False
    config["metrics"] = {"host_collector_enabled": False}
    config["alerting"] = {
        "handling_config_file": str(handling),
        "dispatch_interval_seconds": 0.05,
    }
    # The receiver listens on 127.0.0.1, which the outbound guard refuses unless allowed.
    config.setdefault("security", {})["outbound_allow"] = ["127.0.0.1/32"]
    config["notifications"] = {
        "poll_interval_seconds": 0.05,
        "rate_limit_per_recipient": 0,
        "dedup_window_seconds": 0,
    }
    result.config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(BIN / "watchkeeper"),
            "serve",
            "--config",
            str(result.config_file),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "server.log").open("wb"),
        start_new_session=True,
    )
    print(f"server log: {folder / 'server.log'}", flush=True)
    try:
        wait_for_port(port, timeout=120)
        token = _request("POST", f"{base}/auth/login", {"username": "admin", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        _request(
            "POST",
            f"{base}/api/v1/receivers",
            {
                "name": "default",
                "integrations": [
                    {"type": "webhook", "config": {"url": hook, "alertmanager_format": True}}
                ],
            },
            auth,
        )
        _request(
            "POST",
            f"{base}/api/v1/rules/groups/bench",
            {
                "name": "bench",
                "interval": 0.25,
                "rules": [{"alert": "BenchHigh", "expr": "bench_e2e > 100", "for": "0s"}],
            },
            auth,
        )
        time.sleep(1.0)
        ingested: dict[str, float] = {}
        for n in range(alerts):
            at = time.time()
            ingested[str(n)] = at
            _request(
                "POST",
                f"{base}/api/v1/ingest",
                [{"metric": "bench_e2e", "labels": {"i": str(n)}, "samples": [[at, 500.0]]}],
                auth,
            )
            time.sleep(0.05)
        deadline = time.time() + 30
        while time.time() < deadline:
            with lock:
                if len(arrivals) >= alerts:
                    break
            time.sleep(0.1)
        latencies = sorted(arrivals[k] - ingested[k] for k in arrivals if k in ingested)
        if not latencies:
            return {"alerts": alerts, "received": 0}
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        return {
            "alerts": alerts,
            "received": len(latencies),
            "p50_seconds": round(statistics.median(latencies), 3),
            "p99_seconds": round(q[98], 3),
            "max_seconds": round(latencies[-1], 3),
            "over_1s": sum(1 for v in latencies if v > 1.0),
            # Where the time went: ingest -> the evaluation that fired the alert (startsAt),
            # then startsAt -> the receiver (alert event, dispatcher, outbox, delivery).
            "evaluation_p50_p99": _p50_p99(
                [fired[k] - ingested[k] for k in fired if k in ingested]
            ),
            "notification_p50_p99": _p50_p99([arrivals[k] - fired[k] for k in fired]),
            "by_ingest_order": [
                round(arrivals[k] - ingested[k], 2)
                for k in sorted(arrivals, key=lambda k: ingested.get(k, 0))
                if k in ingested
            ],
        }
    finally:
        server.terminate()
        server.wait(30)
        receiver.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--concurrency", type=int, default=8, help="the setting's default: 8")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--serve-receiver", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_counting_receiver(args.serve_receiver)
        return
    results: dict[str, Any] = {}
    if not args.skip_throughput:
        results["throughput"] = throughput(args.count, args.database_url, args.concurrency)
        print(json.dumps(results, indent=2), flush=True)
    if not args.skip_latency:
        results["latency"] = latency(args.alerts)
    print(json.dumps(results, indent=2))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "notify.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
