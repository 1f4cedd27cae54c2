"""Channel secrets at rest: AES-256-GCM round trip, wrong key, tampering, key rotation."""

from __future__ import annotations

import base64
import os

import pytest

from watchkeeper.notify import DecryptionError, SecretBox
from watchkeeper.notify.crypto import (
    decrypt_fields,
    encrypt_fields,
    is_encrypted,
    key_id,
    rotate_fields,
)

OLD, NEW = os.urandom(32), os.urandom(32)
CONFIG = {
    "host": "smtp.example.com",
    "password": "hunter2",
    "headers": {"Authorization": "Bearer abc"},
}
FIELDS = ("password", "headers")


def test_round_trip_keeps_plain_fields_and_hides_secrets() -> None:
    box = SecretBox(NEW)

    stored = encrypt_fields(box, CONFIG, FIELDS, context="channel:7")

    assert stored["host"] == "smtp.example.com"
    assert is_encrypted(stored["password"]) and is_encrypted(stored["headers"])
    assert "hunter2" not in str(stored) and "Bearer" not in str(stored)
    assert stored["password"].startswith(f"wkenc:v1:{key_id(NEW)}:")
    assert decrypt_fields(box, stored, FIELDS, context="channel:7") == CONFIG


def test_each_encryption_uses_a_fresh_nonce() -> None:
    box = SecretBox(NEW)

    assert box.encrypt(b"same") != box.encrypt(b"same")


def test_encrypting_twice_does_not_wrap_twice() -> None:
    box = SecretBox(NEW)
    once = encrypt_fields(box, CONFIG, FIELDS, context="c")

    assert encrypt_fields(box, once, FIELDS, context="c") == once


def test_wrong_key_fails() -> None:
    token = SecretBox(OLD).encrypt(b"hunter2")

    with pytest.raises(DecryptionError, match="no key with id"):
        SecretBox(NEW).decrypt(token)


def test_same_key_id_but_different_key_material_fails() -> None:
    token = SecretBox(OLD).encrypt(b"hunter2")
    forged = token.replace(key_id(OLD), key_id(NEW))

    with pytest.raises(DecryptionError, match="authentication failed"):
        SecretBox(NEW).decrypt(forged)


def test_tampering_is_detected() -> None:
    box = SecretBox(NEW)
    token = box.encrypt(b"hunter2")
    prefix, payload = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 0x01
    tampered = f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"

    with pytest.raises(DecryptionError, match="authentication failed"):
        box.decrypt(tampered)


def test_a_secret_moved_to_another_channel_does_not_decrypt() -> None:
    box = SecretBox(NEW)
    stored = encrypt_fields(box, CONFIG, FIELDS, context="channel:7")

    with pytest.raises(DecryptionError):
        decrypt_fields(box, stored, FIELDS, context="channel:8")


def test_rotation_by_key_id() -> None:
    stored = encrypt_fields(SecretBox(OLD), CONFIG, FIELDS, context="c")
    ring = SecretBox(NEW, previous=[OLD])

    assert ring.needs_rotation(stored["password"])
    assert decrypt_fields(ring, stored, FIELDS, context="c") == CONFIG  # old still readable
    rotated = rotate_fields(ring, stored, FIELDS, context="c")

    assert not ring.needs_rotation(rotated["password"])
    assert rotated["password"].split(":")[2] == key_id(NEW)
    assert decrypt_fields(SecretBox(NEW), rotated, FIELDS, context="c") == CONFIG
    with pytest.raises(DecryptionError):
        SecretBox(OLD).decrypt(rotated["password"], context="c/password")


def test_keys_as_encryption_key_spells_them() -> None:
    b64 = base64.b64encode(NEW).decode()
    box = SecretBox.from_encoded(b64, previous=[OLD.hex()])

    assert box.current_key_id == key_id(NEW)
    assert box.key_ids == {key_id(NEW), key_id(OLD)}


@pytest.mark.parametrize(
    "token", ["hunter2", "wkenc:v9:abc:AAAA", "wkenc:v1:abc:!!!", "wkenc:v1:abc:AAAA"]
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(DecryptionError):
        SecretBox(NEW).decrypt(token)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        SecretBox(os.urandom(16))
