"""`watchkeeper serve` terminating TLS itself, tried with a real TLS client against a real
server process: production refuses TLS 1.2 and answers TLS 1.3 with HSTS, refuses to start
without TLS (or a declared TLS proxy), fixes file modes at start, and closes connections
whose headers are too slow or too long."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import ADMIN_PASSWORD, free_port, wait_for_port

BIN = Path(sys.executable).parent / "watchkeeper"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _production_config(tmp_path: Path, extra: dict[str, object]) -> Path:
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock

    result = initialise(
        tmp_path / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD, profile="production"
    )
    config = yaml.safe_load(result.config_file.read_text())
    config["observability"] = {"access_log": False, "log_level": "warning"}
    config["metrics"] = {"host_collector_enabled": False}
    config["detection"] = {"forecast_enabled": False}
    config.update(extra)
    result.config_file.write_text(yaml.safe_dump(config))
    return result.config_file


@dataclass
class TlsServer:
    port: int
    cert_file: Path
    data_dir: Path

    def connect(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return context.wrap_socket(raw, server_hostname="localhost")

    def client_context(self, version: ssl.TLSVersion) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert_file))
        context.minimum_version = version
        context.maximum_version = version
        return context


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    tmp_path = tmp_path_factory.mktemp("tls")
    cert_file, key_file = _self_signed(tmp_path)
    config = _production_config(tmp_path, {"server": {"header_read_timeout_seconds": 1}})
    data_dir = tmp_path / "data"
    # Modes an older version (or a hand-made folder) left open: the start must close them.
    data_dir.chmod(0o755)
    (data_dir / "watchkeeper.db").chmod(0o644)
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN),
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--tls-cert",
            str(cert_file),
            "--tls-key",
            str(key_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=90)
        yield TlsServer(port, cert_file, data_dir)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def _get(sock: ssl.SSLSocket, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_production_refuses_tls_1_2(tls_server: TlsServer) -> None:
    with pytest.raises(ssl.SSLError):
        tls_server.connect(tls_server.client_context(ssl.TLSVersion.TLSv1_2)).close()


def test_production_answers_tls_1_3_with_hsts(tls_server: TlsServer) -> None:
    with tls_server.connect(tls_server.client_context(ssl.TLSVersion.TLSv1_3)) as sock:
        assert sock.version() == "TLSv1.3"
        answer = _get(sock, "/health/live").decode()
    head = answer.split("\r\n\r\n", 1)[0].lower()
    assert head.startswith("http/1.1 200")
    assert "strict-transport-security: max-age=31536000" in head
    assert "x-frame-options: deny" in head


def test_start_up_makes_the_data_folder_owner_only(tls_server: TlsServer) -> None:
    assert stat.S_IMODE(tls_server.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((tls_server.data_dir / "watchkeeper.db").stat().st_mode) == 0o600


def test_headers_that_do_not_arrive_in_time_close_the_connection(tls_server: TlsServer) -> None:
    with tls_server.connect(tls_server.client_context(ssl.TLSVersion.TLSv1_3)) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n")  # never finished
        started = time.monotonic()
        sock.settimeout(10)
        assert sock.recv(1024) == b""  # closed by the server (header_read_timeout_seconds: 1)
        assert time.monotonic() - started < 5


def test_headers_longer_than_the_limit_are_refused(tls_server: TlsServer) -> None:
    with tls_server.connect(tls_server.client_context(ssl.TLSVersion.TLSv1_3)) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n")
        sock.sendall(b"X-Padding: " + b"a" * 70_000 + b"\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(1024).startswith(b"HTTP/1.1 431")


def test_production_refuses_to_start_without_tls(tmp_path: Path) -> None:
    config = _production_config(tmp_path, {})
    result = subprocess.run(
        [str(BIN), "serve", "--config", str(config), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "server.tls_cert_file" in result.stderr and "security.tls_proxy" in result.stderr


def test_a_declared_tls_proxy_satisfies_production(tmp_path: Path) -> None:
    from watchkeeper.config import load_settings
    from watchkeeper.serve import check_can_serve

    check_can_serve(load_settings(_production_config(tmp_path, {"security": {"tls_proxy": True}})))
