"""Second factor: TOTP (RFC 6238, 30 s steps, 6 digits) and one-time recovery codes.

A code is accepted for the current step and one step either side (clock drift), and each
step at most once: the step of the last accepted code is stored and only a later step passes,
set with a conditional UPDATE so two concurrent requests cannot both spend one code.
Recovery codes carry 80 random bits, so a SHA-256 of each is enough at rest; each is spent
with the same kind of conditional UPDATE.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from watchkeeper.auth import tokens
from watchkeeper.clock import Clock
from watchkeeper.db.tables import RecoveryCode, User, UserTotp
from watchkeeper.notify.crypto import SecretBox, is_encrypted
from watchkeeper.tenancy.service import ConflictError

ISSUER = "Watchkeeper"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper


class TwoFactorError(ValueError):
    """A code that does not confirm enrolment; the message is safe to show."""


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))  # 16 x log2(31) = 79 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normalise(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


class TwoFactor:
    """TOTP enrolment and checks for users; sessions come from the caller (system sessions)."""

    def __init__(self, clock: Clock, box: SecretBox | None) -> None:
        self.clock = clock
        self.box = box

    # --- storage of the secret -------------------------------------------------------

    def _seal(self, user_id: str, secret: str) -> str:
        if self.box is None:
            return secret
        return self.box.encrypt(secret.encode(), context=f"user:{user_id}/totp")

    def _open(self, user_id: str, stored: str) -> str:
        if not is_encrypted(stored):
            return stored
        if self.box is None:
            raise RuntimeError("the TOTP secret is encrypted but no encryption_key is set")
        return self.box.decrypt(stored, context=f"user:{user_id}/totp").decode()

    # --- enrolment -------------------------------------------------------------------

    def enabled(self, db: Session, user_id: str) -> bool:
        return (
            db.scalar(
                select(UserTotp.user_id).where(
                    UserTotp.user_id == user_id, UserTotp.enabled_at.is_not(None)
                )
            )
            is not None
        )

    def setup(self, db: Session, user: User) -> Enrolment:
        """A new secret, pending until `enable` sees a valid code (a new setup replaces it)."""
        row = db.get(UserTotp, user.id)
        if row is not None and row.enabled_at is not None:
            raise ConflictError("two-factor login is already enabled; disable it first")
        secret = pyotp.random_base32()
        sealed = self._seal(user.id, secret)
        if row is None:
            db.add(UserTotp(user_id=user.id, secret=sealed, created_at=self.clock.now()))
        else:
            row.secret, row.created_at, row.last_step = sealed, self.clock.now(), None
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
        return Enrolment(secret=secret, otpauth_uri=uri)

    def enable(self, db: Session, user: User, code: str) -> list[str]:
        """Confirm enrolment with a valid code; returns the recovery codes (shown once)."""
        row = db.get(UserTotp, user.id)
        if row is None:
            raise TwoFactorError("start with POST /auth/2fa/setup")
        if row.enabled_at is not None:
            raise ConflictError("two-factor login is already enabled")
        if not self._spend_totp(db, row, code):
            raise TwoFactorError("the code is not valid for the pending secret")
        row.enabled_at = self.clock.now()
        db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        db.add_all(
            RecoveryCode(user_id=user.id, code_hash=tokens.sha256_hex(_normalise(c))) for c in codes
        )
        return codes

    def remove(self, db: Session, user_id: str) -> None:
        db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        db.execute(delete(UserTotp).where(UserTotp.user_id == user_id))

    # --- checks ----------------------------------------------------------------------

    def verify(self, db: Session, user_id: str, code: str) -> bool:
        """A TOTP code (not replayed) or an unused recovery code of an enabled user; spends it."""
        row = db.get(UserTotp, user_id)
        if row is None or row.enabled_at is None:
            return False
        digits = code.strip().replace(" ", "")
        if _is_totp(digits):
            return self._spend_totp(db, row, digits)
        return self._spend_recovery(db, user_id, code)

    def _spend_totp(self, db: Session, row: UserTotp, code: str) -> bool:
        code = code.strip()
        if not _is_totp(code):  # also keeps non-ASCII text away from compare_digest
            return False
        totp = pyotp.TOTP(self._open(row.user_id, row.secret), interval=STEP_SECONDS)
        current = int(self.clock.time()) // STEP_SECONDS
        for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
            if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
                break
        else:
            return False
        spent: CursorResult[Any] = db.execute(  # type: ignore[assignment]
            update(UserTotp)
            .where(
                UserTotp.user_id == row.user_id,
                (UserTotp.last_step.is_(None)) | (UserTotp.last_step < step),
            )
            .values(last_step=step)
            .execution_options(synchronize_session=False)
        )
        if spent.rowcount != 1:
            return False  # this step (or a later one) was already used: a replay
        db.refresh(row)
        return True

    def _spend_recovery(self, db: Session, user_id: str, code: str) -> bool:
        digest = tokens.sha256_hex(_normalise(code))
        spent: CursorResult[Any] = db.execute(  # type: ignore[assignment]
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == digest,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=self.clock.now())
            .execution_options(synchronize_session=False)
        )
        return spent.rowcount == 1

    def recovery_codes_left(self, db: Session, user_id: str) -> int:
        return len(
            db.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
                )
            ).all()
        )


def _is_totp(code: str) -> bool:
    """Six ASCII digits (`str.isdigit` alone admits other scripts' digits)."""
    return len(code) == 6 and code.isascii() and code.isdigit()
