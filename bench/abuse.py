"""A real `watchkeeper serve` under steady ingest and query load while an attack set runs.

    python bench/abuse.py [--baseline 30] [--attack 60] [--recovery 60]

Three phases on one server: steady load alone (baseline), steady load plus attackers looping
over hostile inputs (attack), steady load alone again (recovery). Steady load is a JSON-push
ingester (200 series, one sample each per second), a dashboard-like `query_range` twice a second
(both as another tenant, "victim", than the attackers') and a `/health/live` probe ten times a
second. Reported: whether the server process survived,
5xx answers to attack inputs (must be 0), each attack's status codes, p99 of `/health/live` and
of the normal query in each phase (and the attack/baseline ratio), RSS before, at the peak of
the attack phase and at the end of recovery, and the server's CPU use (cores) per phase.
Results: a Markdown table on stdout and bench/results/abuse.json.

The attackers use the credentials an attacker plausibly has: a read-only API key for queries
and previews, an editor-level token for receivers and rules, garbage and forged tokens, no
credentials at all (a login flood with wrong passwords); and the admin's token for a careless
admin's script (a user-creation flood, each new password hashed).
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from watchkeeper.domain.series import SeriesSamples
from watchkeeper.ingest.remote_write import encode

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            total += child.memory_info().rss
    except psutil.Error:
        return float("nan")
    return total / 2**20


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process (all its threads)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return float("nan")
    return float(times.user + times.system)


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class Phase:
    """Latencies and statuses seen during one phase."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.live_ms: list[float] = []
        self.query_ms: list[float] = []
        self.normal_errors = 0
        self.attacks: dict[str, Counter[str]] = defaultdict(Counter)
        self.rss: list[float] = []
        self.cores = float("nan")  # the server's CPU time / wall time in the phase


class Bench:
    def __init__(
        self, base: str, admin: str, read_key: str, write_token: str, victim_key: str
    ) -> None:
        self.base = base
        self.admin = {"Authorization": f"Bearer {admin}"}
        self.read = {"Authorization": f"Bearer {read_key}"}
        self.write = {"Authorization": f"Bearer {write_token}"}
        # The steady load is another tenant's: the attackers' penalties and tenant share must
        # not reach it (one tenant's abuse slows only that tenant).
        self.victim = {"Authorization": f"Bearer {victim_key}"}
        self.only = ""
        self.phase = Phase("baseline")
        self.stop = threading.Event()
        self.server_died = False

    # -- steady load ---------------------------------------------------------------------
    def ingester(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.victim, timeout=30) as client:
            while not self.stop.is_set():
                now = time.time()
                body = [
                    {
                        "metric": "abuse_steady",
                        "labels": {"instance": f"host-{i}", "job": "steady"},
                        "samples": [[now, float(i % 17)]],
                    }
                    for i in range(200)
                ]
                try:
                    response = client.post("/api/v1/ingest", json=body)
                    if response.status_code >= 300:
                        self.phase.normal_errors += 1
                except httpx.HTTPError:
                    self.phase.normal_errors += 1
                self.stop.wait(max(0.0, 1.0 - (time.time() - now)))

    def querier(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.victim, timeout=60) as client:
            while not self.stop.is_set():
                now = time.time()
                started = time.perf_counter()
                try:
                    response = client.get(
                        "/api/v1/query_range",
                        params={
                            "query": "sum by (job) (abuse_steady)",
                            "start": now - 600,
                            "end": now,
                            "step": 15,
                        },
                    )
                    if response.status_code != 200:
                        self.phase.normal_errors += 1
                    else:
                        self.phase.query_ms.append((time.perf_counter() - started) * 1000)
                except httpx.HTTPError:
                    self.phase.normal_errors += 1
                self.stop.wait(0.5)

    def prober(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    client.get("/health/live")
                    self.phase.live_ms.append((time.perf_counter() - started) * 1000)
                except httpx.HTTPError:
                    self.phase.normal_errors += 1
                self.stop.wait(0.1)

    # -- attacks -------------------------------------------------------------------------
    def attacks(self) -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
        now = time.time()
        read, write = self.read, self.write

        def query(q: str, **extra: object) -> Callable[[httpx.Client], httpx.Response]:
            return lambda c: c.post(
                "/api/v1/query", data={"query": q, **extra}, headers=read, timeout=180
            )

        def preview(body: str) -> Callable[[httpx.Client], httpx.Response]:
            return lambda c: c.post(
                "/api/v1/templates/preview",
                json={"name": "x", "subject_template": "s", "body_template": body},
                headers=read,
                timeout=180,
            )

        def receiver(url: str) -> Callable[[httpx.Client], httpx.Response]:
            name = f"ssrf-{abs(hash(url)) % 10**8}"

            def run(c: httpx.Client) -> httpx.Response:
                body = {"name": name, "integrations": [{"type": "webhook", "config": {"url": url}}]}
                created = c.post("/api/v1/receivers", json=body, headers=write)
                if created.status_code >= 400 and created.status_code != 409:
                    return created
                return c.post(f"/api/v1/receivers/{name}/test", json={}, headers=write)

            return run

        def huge_label_write(c: httpx.Client) -> httpx.Response:
            series = [
                SeriesSamples(
                    (("__name__", "abuse_huge"), ("big", "x" * 5_000_000)),
                    np.array([int(now * 1000)], dtype=np.int64),
                    np.array([1.0]),
                )
            ]
            return c.post(
                "/api/v1/write",
                content=encode(series),
                headers={
                    **write,
                    "Content-Encoding": "snappy",
                    "Content-Type": "application/x-protobuf",
                },
            )

        def bad_rule(c: httpx.Client) -> httpx.Response:
            loop = "{% for i in range(100000) %}{% for j in range(400) %}{% endfor %}{% endfor %}"
            group = {
                "name": "abuse",
                "interval": "10s",
                "rules": [{"alert": "Loop", "expr": "vector(1)", "annotations": {"summary": loop}}],
            }
            return c.put("/api/v1/rules/groups/abuse", json=group, headers=write)

        forged = (
            base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
            + "."
            + base64.urlsafe_b64encode(b'{"sub":"admin","tenant":"default"}').rstrip(b"=").decode()
            + "."
        )
        return [
            ("parens 10k deep", query("(" * 10000 + "1" + ")" * 10000)),
            ("parens 1k deep", query("(" * 1000 + "1" + ")" * 1000)),
            ("flat chain 5k", query("+".join(["vector(1)"] * 5000))),
            ("1 MB query", query("a" * 1_000_000)),
            ("regex bomb", query('{job=~"(a+)+b"}')),
            ("regex bomb 2", query('{job=~"(.*a){25}"}')),
            (
                "label_replace bomb",
                query('label_replace(abuse_bomb, "x", "$1", "job", "(a|aa)+b")'),
            ),
            ("subquery 1y:1s", query("max_over_time(vector(1)[1y:1s])")),
            ("subquery 10y:1ms", query("max_over_time(vector(1)[10y:1ms])")),
            (
                "range step 1ms over a year",
                lambda c: c.get(
                    "/api/v1/query_range",
                    params={
                        "query": "vector(1)",
                        "start": now - 365 * 86400,
                        "end": now,
                        "step": "0.001",
                    },
                    headers=read,
                    timeout=180,
                ),
            ),
            ("time=1e300", query("vector(1)", time="1e300")),
            ("time=-1e18", query("vector(1)", time="-1e18")),
            ("time=NaN", query("vector(1)", time="NaN")),
            ("template loop", preview("{% for i in range(10**9) %}{% endfor %}")),
            ("template string bomb", preview("{{ ('a'*10**8)|length }}")),
            ("template power", preview("{{ 10**10**10 }}")),
            ("rule annotation loop", bad_rule),
            ("huge label remote_write", huge_label_write),
            (
                "nested JSON ingest",
                lambda c: c.post(
                    "/api/v1/ingest",
                    content=b"[" * 200_000 + b"]" * 200_000,
                    headers={**write, "content-type": "application/json"},
                ),
            ),
            (
                "64 MB body",
                lambda c: c.post(
                    "/api/v1/ingest",
                    content=b" " * (64 * 2**20),
                    headers={**write, "content-type": "application/json"},
                ),
            ),
            ("SSRF loopback", receiver("http://127.0.0.1:6379/")),
            ("SSRF metadata", receiver("http://169.254.169.254/latest/meta-data/")),
            ("SSRF ::1", receiver("http://[::1]:5432/")),
            ("SSRF integer ip", receiver("http://2130706433:8000/")),
            ("SSRF localhost name", receiver("http://localhost:8000/health/live")),
            (
                "garbage token",
                lambda c: c.get("/system/status", headers={"Authorization": "Bearer x.y.z"}),
            ),
            (
                "alg none token",
                lambda c: c.get("/admin/config", headers={"Authorization": f"Bearer {forged}"}),
            ),
            ("read key on admin", lambda c: c.get("/admin/config", headers=read)),
            ("read key writes", lambda c: c.post("/api/v1/ingest", json=[], headers=read)),
            (
                "login flood (wrong passwords)",
                lambda c: c.post(
                    "/auth/login",
                    json={
                        "username": f"guess-{os.urandom(4).hex()}",
                        "password": os.urandom(12).hex(),
                    },
                ),
            ),
            (
                "user creation flood (new passwords)",
                lambda c: c.post(
                    "/api/v1/users",
                    json={
                        "username": f"flood-{os.urandom(6).hex()}",
                        "password": os.urandom(12).hex(),
                        "role": "viewer",
                    },
                    headers=self.admin,
                ),
            ),
            (
                "admin abuse of users",
                lambda c: c.post(
                    "/api/v1/users",
                    json={"username": "admin", "password": "x" * 20, "role": "viewer"},
                    headers=write,
                ),
            ),
        ]

    def attacker(self, offset: int, stride: int, stop: Any, results: Any) -> None:
        """One attacking process (not a thread: the probe's latencies must not include the
        attackers' own GIL time in this process); sends its counts when told to stop."""
        attacks = [a for a in self.attacks() if self.only in a[0]]
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        with httpx.Client(base_url=self.base, timeout=180) as client:
            index = offset
            while not stop.is_set():
                name, run = attacks[index % len(attacks)]
                index += stride
                try:
                    status = str(run(client).status_code)
                except httpx.TimeoutException:
                    status = "timeout"
                except httpx.HTTPError as error:
                    status = f"conn:{type(error).__name__}"
                counts[name][status] += 1
        results.put({name: dict(c) for name, c in counts.items()})

    # -- driver --------------------------------------------------------------------------
    def run_phase(
        self, phase: Phase, seconds: float, server: subprocess.Popen[bytes], attackers: int
    ) -> None:
        self.phase = phase
        self.stop.clear()
        context = multiprocessing.get_context("fork")
        stop, results = context.Event(), context.Queue()
        threads = [
            threading.Thread(target=self.ingester),
            threading.Thread(target=self.querier),
            threading.Thread(target=self.prober),
        ]
        processes = [
            context.Process(target=self.attacker, args=(i, attackers, stop, results))
            for i in range(attackers)
        ]
        for worker in [*threads, *processes]:
            worker.start()
        cpu_before, wall_before = cpu_seconds(server.pid), time.monotonic()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            phase.rss.append(rss_mb(server.pid))
            if server.poll() is not None:
                self.server_died = True
                break
            time.sleep(1)
        phase.cores = (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - wall_before)
        self.stop.set()
        stop.set()
        for _ in processes:
            for name, counts in results.get(timeout=300).items():
                phase.attacks[name].update(counts)
        for thread in threads:
            thread.join(200)
        for process in processes:
            process.join(60)
        phase.rss.append(rss_mb(server.pid))
        if server.poll() is not None:
            self.server_died = True


def api(client: httpx.Client, method: str, path: str, **kwargs: object) -> dict[str, object]:
    response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    response.raise_for_status()
    return response.json() if response.content else {}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=float, default=30)
    parser.add_argument("--attack", type=float, default=60)
    parser.add_argument("--recovery", type=float, default=60)
    parser.add_argument("--attackers", type=int, default=3)
    parser.add_argument(
        "--only", default="", help="run only the attacks whose name contains this text"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "abuse.json")
    args = parser.parse_args()

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
        config = str(data / "watchkeeper.yaml")
        cli = [str(BIN / "watchkeeper")]
        subprocess.run(
            [*cli, "tenant", "add", "victim", "-c", config], check=True, capture_output=True
        )
        created = subprocess.run(
            [*cli, "apikey", "create", "-t", "victim", "--scope", "ingest,read", "-c", config],
            check=True,
            capture_output=True,
            text=True,
        )
        victim_key = created.stdout.strip().splitlines()[-1]
        port = free_port()
        log = open(Path(tmp) / "server.log", "wb")
        env = {**os.environ, "WATCHKEEPER_OBSERVABILITY__LOG_LEVEL": "warning"}
        server = subprocess.Popen(
            [
                str(BIN / "watchkeeper"),
                "serve",
                "--config",
                str(data / "watchkeeper.yaml"),
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                for _ in range(300):
                    try:
                        if client.get("/health/live").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.2)
                token = api(
                    client, "POST", "/auth/login", json={"username": "admin", "password": PASSWORD}
                )
                admin = str(token["access_token"])
                headers = {"Authorization": f"Bearer {admin}"}
                read_key = str(
                    api(
                        client,
                        "POST",
                        "/api/v1/apikeys",
                        json={"name": "reader", "scopes": ["read"]},
                        headers=headers,
                    )["key"]
                )
                write_key = str(
                    api(
                        client,
                        "POST",
                        "/api/v1/apikeys",
                        json={"name": "writer", "scopes": ["write", "ingest"]},
                        headers=headers,
                    )["key"]
                )
                # The regex bombs need a long label value to chew on.
                api(
                    client,
                    "POST",
                    "/api/v1/ingest",
                    json=[
                        {
                            "metric": "abuse_bomb",
                            "labels": {"job": "a" * 40},
                            "samples": [[time.time(), 1]],
                        }
                    ],
                    headers=headers,
                )
            bench = Bench(base, admin, read_key, write_key, victim_key)
            bench.only = args.only
            phases = [Phase("baseline"), Phase("attack"), Phase("recovery")]
            before = rss_mb(server.pid)
            bench.run_phase(phases[0], args.baseline, server, attackers=0)
            if not bench.server_died:
                bench.run_phase(phases[1], args.attack, server, attackers=args.attackers)
            if not bench.server_died:
                bench.run_phase(phases[2], args.recovery, server, attackers=0)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
            log.close()
            tail = (Path(tmp) / "server.log").read_bytes()[-3000:].decode(errors="replace")

    attack = phases[1]
    five_xx = {
        n: sum(v for k, v in c.items() if k.startswith("5")) for n, c in attack.attacks.items()
    }
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{stamp}, {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(
        f"server crashed: {'YES' if bench.server_died else 'no'}; 5xx answers to attacks: {sum(five_xx.values())}"
    )
    print(
        "\n| phase | /health/live p99 ms | query p99 ms | normal-load errors | RSS MB (max) "
        "| server CPU (cores) |"
    )
    print("|---|---|---|---|---|---|")
    for phase in phases:
        print(
            f"| {phase.name} | {p99(phase.live_ms):.1f} | {p99(phase.query_ms):.1f} | {phase.normal_errors} | {max(phase.rss, default=float('nan')):.0f} | {phase.cores:.2f} |"
        )
    base_live, base_query = p99(phases[0].live_ms), p99(phases[0].query_ms)
    print(
        f"\nattack/baseline p99: /health/live {p99(attack.live_ms) / base_live:.2f}x, "
        f"query {p99(attack.query_ms) / base_query:.2f}x; RSS before {before:.0f} MB, "
        f"peak during attack {max(attack.rss, default=float('nan')):.0f} MB, "
        f"60 s after {phases[2].rss[-1] if phases[2].rss else float('nan'):.0f} MB"
    )
    print("\n| attack | answers |")
    print("|---|---|")
    for name, counts in attack.attacks.items():
        print(f"| {name} | {', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))} |")
    if bench.server_died:
        print("\nserver log tail:\n" + tail)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "date": stamp,
                "crashed": bench.server_died,
                "five_xx": five_xx,
                "phases": {
                    p.name: {
                        "live_p99_ms": p99(p.live_ms),
                        "query_p99_ms": p99(p.query_ms),
                        "live_median_ms": statistics.median(p.live_ms) if p.live_ms else None,
                        "normal_errors": p.normal_errors,
                        "rss_mb": p.rss,
                        "server_cores": p.cores,
                        "attacks": {n: dict(c) for n, c in p.attacks.items()},
                    }
                    for p in phases
                },
                "rss_before_mb": before,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
