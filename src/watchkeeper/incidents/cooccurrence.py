"""Learned co-occurrence: which alertnames tend to fire together, per tenant.

Each firing counts once for its alertname (`fired`) and once for every other alertname that
fired within the correlation window before it (`together`, stored once per unordered pair).
Operators' merges add evidence to the pairs they joined, splits take it away. A new alert is
linked to an open incident when some member's alertname fired with it at least `min_count`
times and in at least `min_confidence` of the firings of whichever of the two fires more often:
"fired together with HighLatency 7 of 9 times".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import AlertnameCooccurrence, AlertnameFiring


@dataclass(frozen=True)
class Link:
    """Why a new alert belongs with an existing alertname."""

    other: str
    together: float
    fired: int
    confidence: float

    def reason(self, name: str) -> str:
        return (
            f"{name} fired together with {self.other} {self.together:g} of {self.fired} times "
            f"(confidence {self.confidence:.2f})"
        )


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _pair_row(db: Session, a: str, b: str) -> AlertnameCooccurrence:
    name_a, name_b = _pair(a, b)
    row = db.scalar(
        select(AlertnameCooccurrence).where(
            AlertnameCooccurrence.name_a == name_a, AlertnameCooccurrence.name_b == name_b
        )
    )
    if row is None:
        row = AlertnameCooccurrence(name_a=name_a, name_b=name_b, together=0.0)
        db.add(row)
    return row


def fired_count(db: Session, name: str) -> int:
    row = db.scalar(select(AlertnameFiring).where(AlertnameFiring.alertname == name))
    return row.fired if row else 0


def together_count(db: Session, a: str, b: str) -> float:
    name_a, name_b = _pair(a, b)
    value = db.scalar(
        select(AlertnameCooccurrence.together).where(
            AlertnameCooccurrence.name_a == name_a, AlertnameCooccurrence.name_b == name_b
        )
    )
    return float(value or 0.0)


def record_firing(db: Session, name: str, recent: Iterable[str]) -> None:
    """Count one firing of `name` and one co-firing with each distinct recent other name."""
    row = db.scalar(select(AlertnameFiring).where(AlertnameFiring.alertname == name))
    if row is None:
        row = AlertnameFiring(alertname=name, fired=0)
        db.add(row)
    row.fired += 1
    for other in sorted(set(recent) - {name}):
        _pair_row(db, name, other).together += 1
    db.flush()


def adjust(db: Session, names_a: Iterable[str], names_b: Iterable[str], delta: float) -> int:
    """Add `delta` evidence to every pair across the two sets (never below zero); a merge
    passes +1, a split -1. Returns how many pairs changed."""
    pairs = {_pair(a, b) for a in set(names_a) for b in set(names_b) if a != b}
    for a, b in sorted(pairs):
        row = _pair_row(db, a, b)
        row.together = max(0.0, row.together + delta)
    db.flush()
    return len(pairs)


def best_link(
    db: Session, name: str, candidates: Iterable[str], *, min_count: int, min_confidence: float
) -> Link | None:
    """The strongest learned link from `name` to one of `candidates`, if one is strong enough."""
    own = fired_count(db, name)
    if own == 0:
        return None
    best: Link | None = None
    for other in sorted(set(candidates) - {name}):
        together = together_count(db, name, other)
        # `together` counts a pair once per firing of either name that found the other in
        # its window, so it is not a count of `name`'s firings alone: divided by the rarer
        # name's firings it read "3 of 2 times" and tied every rare alert to whatever fires
        # all the time. The more frequent name's firings bound it: a link needs the two to
        # fire together in most firings of both.
        fired = max(own, fired_count(db, other))
        confidence = min(1.0, together / fired)
        if together < min_count or confidence < min_confidence:
            continue
        if best is None or confidence > best.confidence:
            best = Link(other, together, fired, confidence)
    return best
