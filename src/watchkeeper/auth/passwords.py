"""Argon2id password hashing and the password policy."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's recommended Argon2id parameters (19 MiB, 2 passes, 1 lane): strong against
# offline guessing and cheap enough that logins do not starve a 2-core server.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)

MIN_PASSWORD_LENGTH = 12


class WeakPasswordError(ValueError):
    pass


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
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
