"""Rules that depend on the profile or on the machine: weak secrets, SQLite on a network
filesystem, TLS. Production refuses what would be unsafe."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from watchkeeper.config.problems import ConfigProblem
from watchkeeper.config.redaction import REDACTED
from watchkeeper.config.settings import DEV_JWT_SECRET, Settings

_NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smbfs",
        "smb3",
        "sshfs",
        "fuse.sshfs",
        "9p",
        "afs",
        "glusterfs",
        "ceph",
        "fuse.glusterfs",
        "lustre",
        "davfs",
        "fuse.rclone",
        "fuse.s3fs",
    }
)


def decode_encryption_key(raw: str) -> bytes:
    """An AES-256 key given as 32 bytes in base64 (standard or URL-safe) or 64 hex digits."""
    text = raw.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be 32 bytes encoded as base64 or 64 hex digits") from exc
    if len(key) != 32:
        raise ValueError(f"must decode to 32 bytes for AES-256, got {len(key)}")
    return key


def is_weak_secret(secret: str) -> str | None:
    """Why a signing secret is too weak for production, or None if it is acceptable."""
    if (
        secret == DEV_JWT_SECRET
        or "change-me" in secret.lower()
        or secret.lower() in {"secret", "changeme", "password"}
    ):
        return "is the built-in development default"
    if len(secret) < 32:
        return f"is {len(secret)} characters long; production needs at least 32 random characters"
    if len(set(secret)) < 10:
        return "has fewer than 10 distinct characters; use a random secret (watchkeeper init generates one)"
    return None


def filesystem_type(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """The type of the filesystem holding `path` (longest mount-point prefix), if known."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return None
    target = path.resolve()
    best: tuple[int, str] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = Path(parts[1].replace("\\040", " "))
        if target == mount or mount in target.parents:
            depth = len(mount.parts)
            if best is None or depth > best[0]:
                best = (depth, parts[2])
    return best[1] if best else None


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    return Path(rest) if rest and rest != ":memory:" else None


def check_profile(settings: Settings) -> list[ConfigProblem]:
    """Rules that depend on the profile; production refuses what would be unsafe."""
    problems: list[ConfigProblem] = []
    if settings.encryption_key is not None:
        try:
            decode_encryption_key(settings.encryption_key.get_secret_value())
        except ValueError as exc:
            problems.append(ConfigProblem("encryption_key (ENCRYPTION_KEY)", REDACTED, str(exc)))
    if settings.storage.backend == "remote" and not settings.storage.remote_url:
        problems.append(
            ConfigProblem(
                "storage.remote_url",
                "unset",
                "the remote storage backend needs the TSDB's base URL",
            )
        )
    if settings.storage.backend == "embedded" and set(settings.server.roles) != {"api", "workers"}:
        problems.append(
            ConfigProblem(
                "server.roles",
                ",".join(settings.server.roles),
                "the embedded store belongs to one process, which must run both roles; "
                "split roles with storage.backend: remote",
            )
        )
    if settings.storage.backend == "embedded" and settings.server.workers > 1:
        problems.append(
            ConfigProblem(
                "server.workers",
                str(settings.server.workers),
                "the embedded store belongs to one process; use workers: 1 or storage.backend: remote",
            )
        )
    if settings.backup.wal_shipping and sqlite_path(settings.effective_database_url) is None:
        problems.append(
            ConfigProblem(
                "backup.wal_shipping",
                "True",
                "WAL shipping copies a SQLite database's WAL; with PostgreSQL use its WAL "
                "archiving for point-in-time recovery (docs/operations.md)",
            )
        )
    problems.extend(_tls_problems(settings))
    if settings.profile != "production":
        return problems
    weak = is_weak_secret(settings.jwt_secret_key.get_secret_value())
    if weak:
        problems.append(
            ConfigProblem(
                "jwt_secret_key (JWT_SECRET_KEY)", REDACTED, f"{weak}; refused in production"
            )
        )
    if settings.encryption_key is None:
        problems.append(
            ConfigProblem(
                "encryption_key (ENCRYPTION_KEY)",
                "unset",
                "production needs an AES-256 key to encrypt secrets at rest",
            )
        )
    if settings.debug:
        problems.append(ConfigProblem("debug", "True", "debug must be off in production"))
    db_path = sqlite_path(settings.effective_database_url)
    if db_path is not None:
        text = db_path.as_posix()
        fs = filesystem_type(db_path.parent if db_path.parent.exists() else Path.cwd())
        if text.startswith("//") or text.startswith("\\\\"):
            problems.append(
                ConfigProblem(
                    "database_url (DATABASE_URL)",
                    repr(text),
                    "SQLite on a network share loses data (locking is unreliable); use a local disk or PostgreSQL",
                )
            )
        elif fs in _NETWORK_FILESYSTEMS:
            problems.append(
                ConfigProblem(
                    "database_url (DATABASE_URL)",
                    repr(text),
                    f"SQLite on a network filesystem ({fs}) loses data (locking is unreliable); use a local disk or PostgreSQL",
                )
            )
    return problems


def _tls_problems(settings: Settings) -> list[ConfigProblem]:
    """TLS in `serve`: both files or neither."""
    server = settings.server
    if (server.tls_cert_file is None) == (server.tls_key_file is None):
        return []
    given = "tls_cert_file" if server.tls_key_file is None else "tls_key_file"
    return [
        ConfigProblem(
            "server.tls_cert_file / server.tls_key_file",
            f"only {given} set",
            "TLS needs both the certificate chain and its private key",
        )
    ]


def serving_problems(settings: Settings) -> list[ConfigProblem]:
    """What `serve` refuses to start with, beyond `check_profile`: production serves HTTPS
    only, TLS 1.3 here or a declared TLS-terminating proxy. (Not in `check_profile`, so that
    `init --profile production` and the other commands work before a certificate exists.)"""
    server = settings.server
    problems: list[ConfigProblem] = []
    if settings.profile != "production":
        return problems
    if server.tls_cert_file is None and not settings.security.tls_proxy:
        problems.append(
            ConfigProblem(
                "server.tls_cert_file",
                "unset",
                "production serves HTTPS only: set server.tls_cert_file and server.tls_key_file "
                "(or serve --tls-cert/--tls-key), or declare a TLS-terminating proxy in front "
                "with security.tls_proxy: true",
            )
        )
    if server.tls_min_version == "1.2":
        problems.append(
            ConfigProblem("server.tls_min_version", "'1.2'", "production requires TLS 1.3 or newer")
        )
    return problems
