"""Learned co-occurrence: alertnames that fired together before end up in one incident, and
operators' merges and splits move the evidence."""

from __future__ import annotations

from tests.incidents.conftest import Rig
from watchkeeper.incidents import cooccurrence, service


def _round(rig: Rig) -> None:
    """HighLatency on the API, then SlowQueries on the database a minute later; both resolve."""
    a = rig.fire("HighLatency", service="api")
    rig.clock.advance(60)
    b = rig.fire("SlowQueries", service="db")
    rig.run()
    rig.clock.advance(60)
    rig.resolve(a)
    rig.resolve(b)
    rig.run()
    rig.clock.advance(2000)  # past the window and the reopen window


def test_alerts_that_keep_firing_together_are_linked_with_the_reason(db_rig: Rig) -> None:
    rig = db_rig
    _round(rig)
    _round(rig)
    assert len(rig.incidents()) == 4  # different services: not linked yet
    _round(rig)
    assert len(rig.incidents()) == 5  # the third time, evidence 3 of 3 links them
    last = rig.members(5)
    assert [m.alertname for m in last] == ["HighLatency", "SlowQueries"]
    assert last[1].reason == (
        "SlowQueries fired together with HighLatency 3 of 3 times (confidence 1.00)"
    )


def test_rarely_shared_firings_stay_apart(rig: Rig) -> None:
    for _ in range(3):
        _round(rig)
    for _ in range(3):  # SlowQueries alone three times: confidence 3/6 < 0.6
        fp = rig.fire("SlowQueries", service="db")
        rig.run()
        rig.resolve(fp)
        rig.run()
        rig.clock.advance(2000)
    rig.fire("HighLatency", service="api")
    rig.fire("SlowQueries", service="db")
    rig.run()
    numbers = [i.number for i in rig.incidents()]
    assert len(rig.members(numbers[-1])) == 1 and len(rig.members(numbers[-2])) == 1


def test_merge_adds_evidence_and_split_takes_it_away(rig: Rig) -> None:
    rig.fire("HighLatency", service="api")
    rig.fire("SlowQueries", service="db")
    rig.run()
    with rig.sessions.tenant(rig.tenant) as db:
        baseline = cooccurrence.together_count(db, "HighLatency", "SlowQueries")
        target = service.get(db, "1")
        service.merge(db, target, ["2"], now=rig.clock.now(), actor="alice", policy=rig.policy)
        assert cooccurrence.together_count(db, "HighLatency", "SlowQueries") == baseline + 1
    with rig.sessions.tenant(rig.tenant) as db:
        incident = service.get(db, "1")
        moved = [m.fingerprint for m in rig.members(1) if m.alertname == "SlowQueries"]
        service.split(db, incident, moved, now=rig.clock.now(), actor="bob", policy=rig.policy)
        assert cooccurrence.together_count(db, "HighLatency", "SlowQueries") == baseline


def test_evidence_never_goes_below_zero(rig: Rig) -> None:
    with rig.sessions.tenant(rig.tenant) as db:
        cooccurrence.adjust(db, ["A"], ["B"], -5)
        assert cooccurrence.together_count(db, "A", "B") == 0


def test_a_rare_alert_is_not_tied_to_one_that_fires_all_the_time(rig: Rig) -> None:
    """`together` counts a pair once per firing of either name; divided by the rarer name's
    firings alone it read 'fired together 3 of 3 times' for any alert that happened to fire
    while a noisy one was firing, and tied the two together."""

    def noisy_round(with_rare: bool) -> None:
        noisy = rig.fire("DiskBusy", service="storage")
        rig.clock.advance(60)
        rare = rig.fire("CertExpiring", service="web") if with_rare else None
        rig.run()
        rig.clock.advance(60)
        rig.resolve(noisy)
        if rare is not None:
            rig.resolve(rare)
        rig.run()
        rig.clock.advance(2000)

    for _ in range(3):
        noisy_round(True)
        for _ in range(3):
            noisy_round(False)
    with rig.sessions.tenant(rig.tenant) as db:
        assert cooccurrence.together_count(db, "CertExpiring", "DiskBusy") == 3
        assert cooccurrence.fired_count(db, "DiskBusy") == 12
    rig.fire("DiskBusy", service="storage")
    rig.clock.advance(60)
    rig.fire("CertExpiring", service="web")
    rig.run()
    numbers = [i.number for i in rig.incidents()]
    assert len(rig.members(numbers[-1])) == 1 and len(rig.members(numbers[-2])) == 1
