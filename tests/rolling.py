"""A rolling restart of two real replicas, measured: the harness behind
tests/test_rolling_restart.py and bench/rolling.py.

Two `watchkeeper serve` processes share one PostgreSQL schema and one VictoriaMetrics (so a
sample acknowledged by either is in the one store). A client pushes samples continuously,
round-robin over the two, and retries a batch on a connection error, 429 or 5xx (on the next
replica, as Prometheus' remote write retries behind a load balancer). An alert fires, then
resolves while the second replica drains; a real HTTP webhook receiver counts deliveries. Each
replica in turn gets SIGTERM (main process), is waited for, started again, waited ready.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.receivers import HttpReceiver, Reply
from tests.support import ADMIN_PASSWORD, LOCAL_OUTBOUND_ALLOW, free_port
from tests.test_server_process import Server

ALERT = "RollingAlert"
BATCH = 50  # samples per push
DRAIN_SECONDS = 1.0
LEASE_TTL = 6.0  # the standby tries to take a lease every third of it


def deliveries(receiver: HttpReceiver, status: str) -> int:
    """How many notifications of the alert with `status` (firing, resolved) reached the hook."""
    with receiver.lock:
        bodies = [request.json() for request in receiver.requests]
    return sum(
        1
        for body in bodies
        if body.get("status") == status
        and ALERT in {a.get("labels", {}).get("alertname") for a in body.get("alerts", [])}
    )


@dataclass(eq=False)
class Writer(threading.Thread):
    """Pushes `BATCH` samples at a time, round-robin, retrying as Prometheus does."""

    urls: list[str]
    auth: dict[str, str]
    health_checked: bool = False  # skip replicas whose last /health/ready was not 200 (an LB)
    alert_value: float = 1.0
    acknowledged: list[int] = field(default_factory=list)  # sample timestamps, ms
    retried: Counter[str] = field(default_factory=Counter)  # errors retried, by kind
    given_up: list[str] = field(default_factory=list)  # batches never acknowledged
    stop: threading.Event = field(default_factory=threading.Event)
    ready: dict[str, bool] = field(default_factory=dict)  # url -> last health check passed

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, name="rolling-writer", daemon=True)
        self.ready = dict.fromkeys(self.urls, True)
        if self.health_checked:
            threading.Thread(target=self._check_health, daemon=True).start()

    def _check_health(self, every: float = 0.5) -> None:
        """What a load balancer does: probe each replica every `every` seconds."""
        with httpx.Client(timeout=1) as client:
            while not self.stop.is_set():
                for url in self.urls:
                    try:
                        ok = client.get(f"{url}/health/ready").status_code == 200
                    except httpx.TransportError:
                        ok = False
                    self.ready[url] = ok
                time.sleep(every)

    def _next(self, turn: int) -> str:
        choices = [u for u in self.urls if self.ready[u]] or self.urls
        return choices[turn % len(choices)]

    def run(self) -> None:
        base = int(time.time() * 1000) - 20 * 60 * 1000  # distinct, increasing timestamps
        turn = 0
        with httpx.Client(timeout=10) as client:
            batch = 0
            while not self.stop.is_set():
                stamps = [base + batch * BATCH + i for i in range(BATCH)]
                body = [
                    {
                        "metric": "rolling_samples",
                        "labels": {},
                        "samples": [[t / 1000, float(batch)] for t in stamps],
                    },
                    {
                        "metric": "rolling_alert",
                        "labels": {},
                        "samples": [[time.time(), self.alert_value]],
                    },
                ]
                backoff = 0.03
                for _attempt in range(100):
                    url = self._next(turn)
                    turn += 1
                    try:
                        answer = client.post(f"{url}/api/v1/ingest", headers=self.auth, json=body)
                    except httpx.TransportError as exc:
                        self.retried[type(exc).__name__] += 1
                    else:
                        if answer.status_code == 200:
                            self.acknowledged.extend(stamps)
                            break
                        if answer.status_code != 429 and answer.status_code < 500:
                            self.given_up.append(f"{answer.status_code}: {answer.text[:200]}")
                            break
                        self.retried[str(answer.status_code)] += 1
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
                else:
                    self.given_up.append(f"batch {batch}: 100 attempts")
                batch += 1
                time.sleep(0.02)


@dataclass
class Result:
    acknowledged: int
    stored: int
    lost: int
    duplicated_samples: int
    firing_deliveries: int
    resolved_deliveries: int
    retried: dict[str, int]
    given_up: list[str]
    drain_seconds: dict[str, float]  # SIGTERM to exit
    restart_seconds: dict[str, float]  # start to ready
    total_seconds: float


def make_replicas(
    workdir: Path, database_url: str, vm_url: str, *, drain_seconds: float = DRAIN_SECONDS
) -> dict[str, Server]:
    """Two replicas' configs (not started): same database, secrets and TSDB; their own data
    folders. The handling config sends the alert to receiver "hook" at once."""
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(
        workdir / "a", clock=SystemClock(), admin_password=ADMIN_PASSWORD, database_url=database_url
    )
    rules = workdir / "rules.yml"
    rule = {"alert": ALERT, "expr": "rolling_alert > 0", "for": "0s"}
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": "rolling", "interval": "1s", "rules": [rule]}]})
    )
    handling = workdir / "handling.yml"
    handling.write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "hook",
                    "group_by": ["alertname"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "4h",
                },
                "receivers": [{"name": "hook"}],
            }
        )
    )
    config = yaml.safe_load(result.config_file.read_text())
    config["metrics"] = {"host_collector_enabled": False}
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config["enable_anomaly_detection"] = False
    config["rule_files"] = [str(rules)]
    config["storage"] = {"backend": "remote", "remote_url": vm_url}
    config.setdefault("security", {})["outbound_allow"] = LOCAL_OUTBOUND_ALLOW
    config["alerting"] = {"handling_config_file": str(handling), "dispatch_interval_seconds": 0.5}
    config["notifications"] = {"poll_interval_seconds": 0.2, "lease_seconds": 5}
    config.setdefault("server", {}).update(
        {
            "lease_ttl_seconds": LEASE_TTL,
            "drain_seconds": drain_seconds,
            "shutdown_timeout_seconds": 20,
        }
    )
    servers = {}
    for name in ("a", "b"):
        (workdir / name).mkdir(exist_ok=True)
        path = workdir / name / "replica.yaml"
        path.write_text(yaml.safe_dump({**config, "data_dir": str(workdir / name)}))
        servers[name] = Server(path, free_port())
    return servers


def wait_ready(server: Server, client: httpx.Client, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.get(f"{server.url}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{server.url} not ready after {timeout} s")


def _until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


def restart(server: Server, client: httpx.Client) -> tuple[float, float]:
    """SIGTERM the main process, wait for its exit, start it again, wait until ready."""
    assert server.process is not None
    signalled = time.monotonic()
    os.kill(server.process.pid, signal.SIGTERM)
    server.process.wait(60)
    exited = time.monotonic()
    server.start()
    wait_ready(server, client)
    return exited - signalled, time.monotonic() - exited


def roll(servers: dict[str, Server], vm_flush: Any, *, health_checked: bool = False) -> Result:
    """Start both replicas, roll them one after the other under load; the figures."""
    started = time.monotonic()
    receiver = HttpReceiver(default=Reply(200, b"")).start()
    writer: Writer | None = None
    with httpx.Client(timeout=30) as client:
        try:
            starting = [threading.Thread(target=s.start) for s in servers.values()]
            for thread in starting:  # both at once: the start-up is most of the test's time
                thread.start()
            for thread in starting:
                thread.join()
            for server in servers.values():
                wait_ready(server, client)
            a = servers["a"]
            admin = a.login(client)
            hook = {
                "type": "webhook",
                "config": {
                    "url": f"http://127.0.0.1:{receiver.port}/",
                    "alertmanager_format": True,
                },
            }
            created = client.post(
                f"{a.url}/api/v1/receivers",
                headers=admin,
                json={"name": "hook", "integrations": [hook]},
            )
            assert created.status_code == 201, created.text
            key = client.post(
                f"{a.url}/api/v1/apikeys",
                headers=admin,
                json={"name": "rolling", "scopes": ["ingest", "read"]},
            )
            assert key.status_code == 201, key.text
            auth = {"Authorization": f"Bearer {key.json()['key']}"}

            writer = Writer([s.url for s in servers.values()], auth, health_checked)
            writer.start()
            _until(lambda: deliveries(receiver, "firing") >= 1, 40, "the firing notification")
            drains, restarts = {}, {}
            drains["a"], restarts["a"] = restart(servers["a"], client)
            writer.alert_value = 0.0  # resolves while b drains, restarts, takes leases back
            drains["b"], restarts["b"] = restart(servers["b"], client)
            _until(lambda: deliveries(receiver, "resolved") >= 1, 40, "the resolved notification")
            time.sleep(3)  # a duplicate, if any, would arrive now (wall time, not a timeout)
        finally:
            if writer is not None:
                writer.stop.set()
                writer.join(30)
            receiver.stop()
        assert writer is not None
        vm_flush()
        answer = client.get(
            f"{servers['a'].url}/api/v1/query",
            headers=auth,
            params={"query": "rolling_samples[1h]", "time": str(time.time())},
        )
        assert answer.status_code == 200, answer.text
        (series,) = answer.json()["data"]["result"]
        stamps = [round(float(t) * 1000) for t, _ in series["values"]]
    acknowledged = set(writer.acknowledged)
    return Result(
        acknowledged=len(acknowledged),
        stored=len(set(stamps)),
        lost=len(acknowledged - set(stamps)),
        duplicated_samples=len(stamps) - len(set(stamps)),
        firing_deliveries=deliveries(receiver, "firing"),
        resolved_deliveries=deliveries(receiver, "resolved"),
        retried=dict(writer.retried),
        given_up=writer.given_up,
        drain_seconds=drains,
        restart_seconds=restarts,
        total_seconds=time.monotonic() - started,
    )


def stop_all(servers: dict[str, Server]) -> None:
    for server in servers.values():
        if server.process is not None and server.process.poll() is None:
            server.kill(signal.SIGKILL)
