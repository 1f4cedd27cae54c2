"""Argon2 work is bounded machine-wide: a flood of logins or user creations with wrong or new
passwords gets 429 with Retry-After beyond a few concurrent and queued checks, instead of
taking every core."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import Env
from tests.security.helpers import configure
from watchkeeper.auth import passwords
from watchkeeper.auth.passwords import HashGate, HashingBusy


def test_the_gate_queues_up_to_its_bound_then_refuses_at_once() -> None:
    gate = HashGate(concurrent=1, queue=1, wait_seconds=30)
    entered, release, queued_done = threading.Event(), threading.Event(), threading.Event()

    def running() -> None:
        with gate.slot():
            entered.set()
            release.wait(30)

    def queued() -> None:
        with gate.slot():
            queued_done.set()

    first = threading.Thread(target=running)
    first.start()
    entered.wait(10)
    second = threading.Thread(target=queued)
    second.start()
    while gate._admitted < 2:  # the second caller is waiting for the slot
        threading.Event().wait(0.005)
    with pytest.raises(HashingBusy), gate.slot():
        pass
    release.set()
    second.join(10)
    assert queued_done.is_set()


def test_logins_and_user_creation_beyond_the_hashing_bound_get_429(env: Env) -> None:
    admin = env.login()
    configure(env, {"security": {"password_hash_concurrency": 1, "password_hash_queue": 0}})
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with passwords._gate.slot():
            entered.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(10)
        response = env.client.post(
            "/auth/login", json={"username": "nobody", "password": "wrong-password-123"}
        )
        created = env.client.post(
            "/api/v1/users",
            headers=admin,
            json={"username": "new", "password": "a-new-password-1", "role": "viewer"},
        )
    finally:
        release.set()
        holder.join(30)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert "password_hash_concurrency" in response.json()["error"]["message"]
    assert created.status_code == 429
    again = env.client.post(
        "/auth/login", json={"username": "nobody", "password": "wrong-password-123"}
    )
    assert again.status_code == 401
