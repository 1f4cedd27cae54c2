"""Argon2id password hashing and the password policy.

Every Argon2 computation (hashing a new password, checking one at login, the dummy check for
an unknown user) passes one `HashGate`: at most `concurrent` run at once and `queue` more wait
(on the caller's thread, at most `wait_seconds`); anyone beyond is refused at once with
`HashingBusy` (429 with Retry-After). Argon2 releases the GIL and takes ~19 MiB and tens of
milliseconds of a core per call, so without the gate a flood of logins or user creations
with wrong or new passwords occupies every core (and the shared worker threads waiting for
them).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's recommended Argon2id parameters (19 MiB, 2 passes, 1 lane): strong against
# offline guessing and cheap enough that logins do not starve a 2-core server.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)

MIN_PASSWORD_LENGTH = 12


class WeakPasswordError(ValueError):
    pass


class HashingBusy(Exception):
    """Too many password checks are running or waiting; the caller should retry shortly."""

    retry_after = 1


class HashGate:
    """Bounds concurrent Argon2 computations and the callers waiting for one."""

    def __init__(self, concurrent: int, queue: int, wait_seconds: float = 2.0) -> None:
        self.concurrent = concurrent
        self.queue = queue
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self._admitted = 0  # running or waiting

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self.concurrent + self.queue:
                raise HashingBusy(
                    f"{self._admitted} password checks are running or waiting "
                    f"(security.password_hash_concurrency {self.concurrent}, "
                    f"password_hash_queue {self.queue}): retry shortly"
                )
            self._admitted += 1
        try:
            if not self._slots.acquire(timeout=self.wait_seconds):
                raise HashingBusy(
                    f"no password check slot within {self.wait_seconds} s: retry shortly"
                )
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1


def default_concurrency() -> int:
    """Half the cores (at least one): logins never take the whole machine."""
    return max(1, (os.cpu_count() or 2) // 2)


_gate = HashGate(default_concurrency(), 4 * default_concurrency())


def configure(concurrent: int | None, queue: int) -> None:
    """Set the gate from `security.password_hash_concurrency` / `password_hash_queue`."""
    global _gate
    concurrent = concurrent or default_concurrency()
    if (concurrent, queue) != (_gate.concurrent, _gate.queue):
        _gate = HashGate(concurrent, queue)


def hash_password(password: str) -> str:
    check_policy(password)
    with _gate.slot():
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _gate.slot():
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(set(password)) < 5:
        raise WeakPasswordError("password must contain at least 5 distinct characters")


def generate_password() -> str:
    return secrets.token_urlsafe(15)


# A real hash, verified against when a username does not exist, so that a login for an
# unknown user takes as long as one with a wrong password (no user enumeration by timing).
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
