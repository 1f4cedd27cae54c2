"""AES-256-GCM encryption of channel secrets at rest, with a key ring for rotation.

A stored secret looks like `wkenc:v1:<key id>:<base64url(nonce || ciphertext || tag)>`.
The key id is derived from the key itself (a truncated SHA-256), so rotating means: put the
new key in ENCRYPTION_KEY, keep the old one in the ring's `previous` keys, and re-encrypt
(`rotate_fields`) at leisure; every token says which key opens it.

Each ciphertext is bound to where it lives (associated data = context + field name), so a
token copied from one channel's `password` into another channel or field does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from watchkeeper.config import decode_encryption_key

PREFIX = "wkenc"
VERSION = "v1"
NONCE_BYTES = 12  # the GCM standard nonce; random per encryption


class DecryptionError(ValueError):
    """A token that cannot be opened: unknown key, wrong place, or tampered with."""


def key_id(key: bytes) -> str:
    """A short public name for a key (not reversible to it)."""
    return hashlib.sha256(b"watchkeeper-encryption-key-id\x00" + key).hexdigest()[:12]


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(f"{PREFIX}:")


class SecretBox:
    """Encrypts with the current key, decrypts with any key of the ring.

    box = SecretBox(decode_encryption_key(settings.encryption_key.get_secret_value()))
    token = box.encrypt(b"hunter2", context="channel:42/password")
    box.decrypt(token, context="channel:42/password") == b"hunter2"
    """

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        keys = [current, *previous]
        for key in keys:
            if len(key) != 32:
                raise ValueError(f"AES-256 needs a 32-byte key, got {len(key)} bytes")
        self.current_key_id = key_id(current)
        self._keys = {key_id(key): AESGCM(key) for key in reversed(keys)}

    @classmethod
    def from_encoded(cls, current: str, previous: Iterable[str] = ()) -> SecretBox:
        """Keys as ENCRYPTION_KEY spells them (base64 or hex, see config.decode_encryption_key)."""
        return cls(decode_encryption_key(current), [decode_encryption_key(p) for p in previous])

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def encrypt(self, plaintext: bytes, *, context: str = "") -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_key_id].encrypt(nonce, plaintext, _aad(context))
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}:{VERSION}:{self.current_key_id}:{payload}"

    def decrypt(self, token: str, *, context: str = "") -> bytes:
        kid, blob = _parse(token)
        aead = self._keys.get(kid)
        if aead is None:
            raise DecryptionError(f"no key with id {kid} in the key ring")
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(context))
        except InvalidTag as exc:
            raise DecryptionError(
                "authentication failed: the secret was altered or belongs elsewhere"
            ) from exc

    def needs_rotation(self, token: str) -> bool:
        return _parse(token)[0] != self.current_key_id

    def rotate(self, token: str, *, context: str = "") -> str:
        """The same secret under the current key (unchanged if already under it)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context=context), context=context)


def _aad(context: str) -> bytes:
    return f"{PREFIX}/{VERSION}/{context}".encode()


def _parse(token: str) -> tuple[str, bytes]:
    parts = token.split(":")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise DecryptionError("not an encrypted secret")
    if parts[1] != VERSION:
        raise DecryptionError(f"unsupported encryption format {parts[1]}")
    try:
        blob = base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("malformed ciphertext") from exc
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext too short")
    return parts[2], blob


def encrypt_fields(
    box: SecretBox, config: Mapping[str, Any], fields: Iterable[str], *, context: str
) -> dict[str, Any]:
    """A copy of `config` with each named field's value (any JSON value) encrypted.

    Missing or null fields stay as they are; already-encrypted values are not wrapped twice.
    """
    out = dict(config)
    for name in fields:
        value = out.get(name)
        if value is None or is_encrypted(value):
            continue
        plaintext = json.dumps(value, separators=(",", ":")).encode()
        out[name] = box.encrypt(plaintext, context=f"{context}/{name}")
    return out


def decrypt_fields(
    box: SecretBox, config: Mapping[str, Any], fields: Iterable[str], *, context: str
) -> dict[str, Any]:
    """The inverse of encrypt_fields; raises DecryptionError for any field that fails."""
    out = dict(config)
    for name in fields:
        value = out.get(name)
        if not is_encrypted(value):
            continue
        assert isinstance(value, str)
        plaintext = box.decrypt(value, context=f"{context}/{name}")
        out[name] = json.loads(plaintext)
    return out


def rotate_fields(
    box: SecretBox, config: Mapping[str, Any], fields: Iterable[str], *, context: str
) -> dict[str, Any]:
    """Re-encrypt each encrypted field under the current key."""
    out = dict(config)
    for name in fields:
        value = out.get(name)
        if is_encrypted(value):
            assert isinstance(value, str)
            out[name] = box.rotate(value, context=f"{context}/{name}")
    return out
