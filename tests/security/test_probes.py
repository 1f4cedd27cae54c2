"""The probes answer while every shared worker thread is busy: a flood of slow requests must
not make a healthy process look dead (and get it restarted)."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread

from tests.conftest import Env


def test_probes_answer_while_the_shared_worker_threads_are_all_taken(env: Env) -> None:
    portal = env.client.portal
    assert portal is not None
    limiter = portal.call(anyio.to_thread.current_default_thread_limiter)
    taken = int(limiter.total_tokens)
    borrowers = [object() for _ in range(taken)]
    for borrower in borrowers:
        portal.call(limiter.acquire_on_behalf_of, borrower)
    try:
        assert limiter.available_tokens == 0
        answers: dict[str, int] = {}

        def probe(path: str) -> None:
            answers[path] = env.client.get(path).status_code

        probes = [
            threading.Thread(target=probe, args=(p,)) for p in ("/health/live", "/health/ready")
        ]
        for thread in probes:
            thread.start()
        for thread in probes:
            thread.join(15)
        assert answers == {"/health/live": 200, "/health/ready": 200}
    finally:
        for borrower in borrowers:
            portal.call(limiter.release_on_behalf_of, borrower)
