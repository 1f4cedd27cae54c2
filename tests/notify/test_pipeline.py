"""The pipeline's chain and the send stage's classification, without a database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from watchkeeper.clock import ManualClock
from watchkeeper.config import NotificationSettings
from watchkeeper.notify.base import DeliveryResult
from watchkeeper.notify.outbox import OutboxStatus
from watchkeeper.notify.pipeline import Claim, Outcome, RowStage, Work, run_row_stages
from watchkeeper.notify.stages.send import Send

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def _claim(attempts: int = 1, *, source: str = "api", retried: bool = False) -> Claim:
    return Claim(
        id=1,
        tenant_id="t",
        idempotency_key="k",
        channel="webhook",
        receiver="",
        recipients=(),
        template_id="",
        priority="normal",
        payload={},
        source=source,
        attempts=attempts,
        created_at=NOW,
        lease=NOW + timedelta(minutes=5),
        retried=retried,
    )


def test_row_stages_run_in_order_until_one_settles_the_row() -> None:
    seen: list[str] = []

    def passing(name: str) -> RowStage:
        def stage(db: Session, work: Work, now: datetime) -> Work | Outcome:
            seen.append(name)
            return work

        return stage

    def settling(db: Session, work: Work, now: datetime) -> Work | Outcome:
        seen.append("gate")
        return Outcome(work.claim, OutboxStatus.SUPPRESSED, "duplicate")

    stages = (passing("expand"), passing("render"), settling, passing("never"))
    step = run_row_stages(stages, Session(), Work(_claim()), NOW)
    assert isinstance(step, Outcome) and step.status is OutboxStatus.SUPPRESSED
    assert seen == ["expand", "render", "gate"]


def test_only_a_first_attempt_that_no_operator_retried_is_gated() -> None:
    assert _claim(attempts=1).gated
    assert not _claim(attempts=2).gated
    assert not _claim(attempts=1, retried=True).gated
    assert not _claim(attempts=1, source="digest").gated


def _send(max_attempts: int = 3) -> Send:
    settings = NotificationSettings(
        max_attempts=max_attempts, backoff_base_seconds=5, backoff_cap_seconds=60
    )
    return Send(settings, ManualClock(start=NOW.timestamp()), random.Random(7))


def test_send_classifies_each_answer() -> None:
    send = _send()
    work = Work(_claim(attempts=1))
    assert send.classify(work, DeliveryResult.ok("webhook")).status is OutboxStatus.SENT
    retry = send.classify(work, DeliveryResult.retry("webhook", "HTTP 429", retry_after=30))
    assert retry.status is OutboxStatus.PENDING and retry.error == "HTTP 429"
    assert retry.next_attempt_at is not None
    assert retry.next_attempt_at >= NOW + timedelta(seconds=30)  # Retry-After is a floor
    dead = send.classify(work, DeliveryResult.fail("webhook", "HTTP 404"))
    assert dead.status is OutboxStatus.DEAD and dead.error == "HTTP 404"


def test_the_last_attempt_of_a_retryable_failure_is_dead() -> None:
    outcome = _send(max_attempts=3).classify(
        Work(_claim(attempts=3)), DeliveryResult.retry("webhook", "HTTP 503")
    )
    assert outcome.status is OutboxStatus.DEAD
    assert outcome.error == "HTTP 503 (attempts exhausted)"
