"""Access tokens (short-lived HS256 JWTs) and opaque secrets (refresh tokens, API keys)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "watchkeeper"
API_KEY_PREFIX = "wk_"


class InvalidTokenError(Exception):
    """The credential is malformed, forged, expired or revoked; the message says which."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    username: str
    tenant_id: str
    role: str
    session_id: str
    superadmin: bool
    expires_at: float
    restriction: str | None = None
    """Set while the user must first change their password or enrol in 2FA (auth/restrictions.py)."""
    token_version: int = 0


def issue_access_token(
    secret: str,
    *,
    user_id: str,
    username: str,
    tenant_id: str,
    role: str,
    session_id: str,
    superadmin: bool,
    now: float,
    ttl_seconds: int,
    restriction: str | None = None,
    token_version: int = 0,
) -> str:
    """`role` and `sa` are informational: each request reads the current role and flags
    (auth/service.py); `ver` is the user's session generation, refused once bumped."""
    claims: dict[str, object] = {
        "iss": ISSUER,
        "typ": "access",
        "sub": user_id,
        "name": username,
        "tid": tenant_id,
        "role": role,
        "sid": session_id,
        "sa": superadmin,
        "ver": token_version,
        "iat": int(now),
        "exp": int(now) + ttl_seconds,
        "jti": secrets.token_hex(8),
    }
    if restriction is not None:
        claims["rst"] = restriction
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _verified(secret: str, token: str, require: list[str]) -> dict[str, Any]:
    """The claims of one of our HS256 tokens, signature and issuer verified. Expiry and iat
    are left to the caller, against the injected clock: PyJWT would use the system time."""
    return jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        options={"require": require, "verify_exp": False, "verify_iat": False},
    )


def decode_access_token(secret: str, token: str, *, now: float) -> AccessClaims:
    """Verify signature, algorithm (HS256 only: `alg=none` is refused), issuer and expiry."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError(f"token algorithm {header.get('alg')!r} is not accepted")
    try:
        claims = _verified(secret, token, ["exp", "iat", "sub", "tid", "sid"])
    except jwt.InvalidSignatureError as exc:
        raise InvalidTokenError("token signature is invalid") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"invalid token: {exc}") from exc
    # Expiry is checked against the injected clock, not the system time.
    if claims.get("typ") != "access":
        raise InvalidTokenError("not an access token")
    if float(claims["exp"]) <= now:
        raise InvalidTokenError("token has expired")
    return AccessClaims(
        user_id=str(claims["sub"]),
        username=str(claims.get("name", claims["sub"])),
        tenant_id=str(claims["tid"]),
        role=str(claims.get("role", "viewer")),
        session_id=str(claims["sid"]),
        superadmin=bool(claims.get("sa", False)),
        expires_at=float(claims["exp"]),
        restriction=str(claims["rst"]) if claims.get("rst") else None,
        token_version=int(claims.get("ver", 0)),
    )


CHALLENGE_TYPE = "2fa"


@dataclass(frozen=True)
class ChallengeClaims:
    user_id: str
    tenant_id: str
    session_id: str


def issue_challenge_token(
    secret: str, *, user_id: str, tenant_id: str, now: float, ttl_seconds: int
) -> str:
    """The proof that a password was right, exchanged with a TOTP or recovery code for tokens
    at `POST /auth/login/2fa`. Its `typ` is not "access": it opens nothing else."""
    claims = {
        "iss": ISSUER,
        "typ": CHALLENGE_TYPE,
        "sub": user_id,
        "tid": tenant_id,
        "sid": secrets.token_hex(16),
        "iat": int(now),
        "exp": int(now) + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_challenge_token(secret: str, token: str, *, now: float) -> ChallengeClaims:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError("challenge algorithm is not accepted")
        claims = _verified(secret, token, ["exp", "sub", "tid", "sid"])
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("invalid 2FA challenge") from exc
    if claims.get("typ") != CHALLENGE_TYPE:
        raise InvalidTokenError("not a 2FA challenge")
    if float(claims["exp"]) <= now:
        raise InvalidTokenError("2FA challenge has expired; log in again")
    return ChallengeClaims(
        user_id=str(claims["sub"]), tenant_id=str(claims["tid"]), session_id=str(claims["sid"])
    )


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str, str]:
    """(full key shown once, lookup prefix, SHA-256 of the secret part)."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_PREFIX}{prefix}_{secret}", prefix, sha256_hex(secret)


def split_api_key(key: str) -> tuple[str, str]:
    """(prefix, secret) of `wk_<prefix>_<secret>`; raises InvalidTokenError if malformed."""
    if not key.startswith(API_KEY_PREFIX):
        raise InvalidTokenError("malformed API key")
    prefix, sep, secret = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 8 or not secret:
        raise InvalidTokenError("malformed API key")
    return prefix, secret


def secret_matches(secret: str, expected_hash: str) -> bool:
    return hmac.compare_digest(sha256_hex(secret), expected_hash)
