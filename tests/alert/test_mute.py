"""Silences over time (pending, active, expired and kept) and inhibition with `equal`."""

from __future__ import annotations

import itertools

import pytest

from watchkeeper.alert.matchers import parse_matchers
from watchkeeper.alert.model import Alert, AlertStatus, ConfigError
from watchkeeper.alert.mute import (
    Inhibitor,
    MuteKind,
    Muter,
    SilenceError,
    Silences,
    SilenceState,
    inhibit_rules_from_config,
)
from watchkeeper.clock import ManualClock

T0 = 1_700_000_000.0


def registry() -> Silences:
    counter = itertools.count(1)
    return Silences(new_id=lambda: f"s{next(counter)}")


def silence(silences: Silences, matchers: str, start: float, end: float, now: float = T0) -> str:
    created = silences.create(
        matchers=parse_matchers(matchers),
        starts_at=start,
        ends_at=end,
        created_by="ops",
        comment="maintenance",
        now=now,
    )
    return created.id


@pytest.mark.parametrize(
    ("offset", "state"),
    [
        (0, SilenceState.PENDING),
        (99, SilenceState.PENDING),
        (100, SilenceState.ACTIVE),  # start inclusive
        (199, SilenceState.ACTIVE),
        (200, SilenceState.EXPIRED),  # end exclusive
        (10**6, SilenceState.EXPIRED),
    ],
)
def test_silence_state_over_time(offset: float, state: SilenceState) -> None:
    silences = registry()
    sid = silence(silences, 'job="db"', T0 + 100, T0 + 200)
    assert silences.get(sid).state_at(T0 + offset) is state


def test_silence_mutes_only_matching_alerts_while_active() -> None:
    silences = registry()
    silence(silences, 'job="db", env=~"prod|stage"', T0, T0 + 60)
    assert [s.id for s in silences.muting({"job": "db", "env": "prod"}, now=T0 + 1)] == ["s1"]
    assert silences.muting({"job": "db", "env": "dev"}, now=T0 + 1) == []
    assert silences.muting({"job": "db", "env": "prod"}, now=T0 + 60) == []


def test_expired_silences_are_kept_as_history_until_forgotten() -> None:
    clock = ManualClock(T0)
    silences = registry()
    sid = silence(silences, 'job="db"', T0, T0 + 3600)
    clock.advance(600)
    expired = silences.expire(sid, now=clock.time())
    assert expired.ends_at == T0 + 600
    assert [s.id for s in silences.select(now=clock.time(), state=SilenceState.EXPIRED)] == [sid]
    assert silences.forget_expired(now=clock.time(), retention=86400) == []
    clock.advance(86400)
    assert silences.forget_expired(now=clock.time(), retention=86400) == [sid]


def test_expiring_a_pending_silence_means_it_never_was_active() -> None:
    silences = registry()
    sid = silence(silences, 'job="db"', T0 + 100, T0 + 200)
    expired = silences.expire(sid, now=T0 + 10)
    assert (expired.starts_at, expired.ends_at) == (T0 + 10, T0 + 10)
    assert expired.state_at(T0 + 150) is SilenceState.EXPIRED


def test_changing_an_active_silences_matchers_replaces_it() -> None:
    silences = registry()
    sid = silence(silences, 'job="db"', T0, T0 + 600)
    new = silences.update(sid, now=T0 + 60, matchers=parse_matchers('job="web"'))
    assert new.id == "s2"
    assert silences.get(sid).state_at(T0 + 60) is SilenceState.EXPIRED
    assert silences.get(sid).matchers == tuple(parse_matchers('job="db"'))  # history intact


def test_extending_an_active_silence_keeps_its_id() -> None:
    silences = registry()
    sid = silence(silences, 'job="db"', T0, T0 + 600)
    assert silences.update(sid, now=T0 + 60, ends_at=T0 + 1200).id == sid


def test_start_in_the_past_becomes_now() -> None:
    silences = registry()
    sid = silence(silences, 'job="db"', T0 - 500, T0 + 600)
    assert silences.get(sid).starts_at == T0


@pytest.mark.parametrize(
    ("matchers", "start", "end", "message"),
    [
        ('job=~".*"', T0, T0 + 60, "must not match the empty string"),
        ('job="db"', T0 + 60, T0 + 30, "after startsAt"),
        ('job="db"', T0 - 120, T0 - 60, "after startsAt"),  # start clamps to now, past end
    ],
)
def test_invalid_silences_are_rejected(
    matchers: str, start: float, end: float, message: str
) -> None:
    with pytest.raises(SilenceError, match=message):
        silence(registry(), matchers, start, end)


def test_expired_silences_cannot_be_changed() -> None:
    silences = registry()
    sid = silence(silences, 'job="db"', T0, T0 + 60)
    with pytest.raises(SilenceError, match="expired"):
        silences.update(sid, now=T0 + 61, comment="late")


def test_silences_round_trip_through_dicts() -> None:
    silences = registry()
    silence(silences, 'job="db", env!~"dev|test"', T0, T0 + 60)
    restored = Silences.from_dict(silences.to_dict())
    assert restored.select(now=T0) == silences.select(now=T0)


RULES = inhibit_rules_from_config(
    "inhibit_rules",
    [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["cluster", "service"],
        },
        {"source_matchers": ['alertname="NodeDown"'], "target_matchers": ['alertname=~".+"']},
    ],
)


def firing(labels: dict[str, str], ends_at: float | None = None) -> Alert:
    return Alert(labels=labels, starts_at=T0, ends_at=ends_at)


@pytest.mark.parametrize(
    ("source", "target", "inhibited"),
    [
        (
            {"severity": "critical", "cluster": "a", "service": "x"},
            {"severity": "warning", "cluster": "a", "service": "x"},
            True,
        ),
        (
            {"severity": "critical", "cluster": "a", "service": "x"},
            {"severity": "warning", "cluster": "b", "service": "x"},
            False,
        ),
        (
            {"severity": "critical", "cluster": "a"},
            {"severity": "warning", "cluster": "a"},
            True,
        ),  # both lack 'service'
        (
            {"severity": "critical", "cluster": "a"},
            {"severity": "warning", "cluster": "a", "service": "x"},
            False,
        ),
        (
            {"severity": "critical", "cluster": "a", "service": "x"},
            {"severity": "info", "cluster": "a", "service": "x"},
            False,
        ),
    ],
)
def test_inhibition_needs_equal_labels(
    source: dict[str, str], target: dict[str, str], inhibited: bool
) -> None:
    inhibitor = Inhibitor(RULES[:1])
    inhibitor.observe(firing(source))
    assert bool(inhibitor.inhibitions(target, now=T0 + 1)) is inhibited


def test_resolved_source_no_longer_inhibits() -> None:
    inhibitor = Inhibitor(RULES[:1])
    inhibitor.observe(firing({"severity": "critical"}, ends_at=T0 + 60))
    assert inhibitor.inhibitions({"severity": "warning"}, now=T0 + 59)
    assert inhibitor.inhibitions({"severity": "warning"}, now=T0 + 60) == []


def test_an_alert_does_not_inhibit_itself() -> None:
    inhibitor = Inhibitor(RULES[1:])  # the target side matches NodeDown too
    node_down = firing({"alertname": "NodeDown", "instance": "a"})
    inhibitor.observe(node_down)
    assert inhibitor.inhibitions(node_down.labels, now=T0) == []
    assert inhibitor.inhibitions({"alertname": "DiskFull"}, now=T0)


def test_muted_by_names_the_silence_or_the_inhibiting_alert() -> None:
    silences = registry()
    silence(silences, 'job="db"', T0, T0 + 60)
    muter = Muter(silences, Inhibitor(RULES[:1]))
    source = firing({"severity": "critical", "cluster": "a", "service": "x"})
    muter.observe(source)
    silenced = muter.muted_by(firing({"job": "db"}), T0 + 1)
    inhibited = muter.muted_by(
        firing({"severity": "warning", "cluster": "a", "service": "x"}), T0 + 1
    )
    assert silenced is not None and silenced.kind is MuteKind.SILENCE
    assert silenced.silence_ids == ("s1",)
    assert inhibited is not None and inhibited.kind is MuteKind.INHIBITION
    assert (inhibited.inhibit_rule, inhibited.source_fingerprint) == (0, source.fingerprint)
    assert muter.muted_by(firing({"job": "web"}), T0 + 1) is None


def test_inhibition_config_errors_point_at_the_rule() -> None:
    with pytest.raises(ConfigError) as info:
        inhibit_rules_from_config("inhibit_rules", [{}, {"source_matchers": ['sev=~"("']}])
    assert info.value.path.startswith("inhibit_rules[1].source_matchers[0]")


def test_legacy_source_match_is_accepted() -> None:
    (rule,) = inhibit_rules_from_config(
        "inhibit_rules",
        [{"source_match": {"severity": "critical"}, "target_match_re": {"severity": "warn.*"}}],
    )
    inhibitor = Inhibitor([rule])
    inhibitor.observe(firing({"severity": "critical"}))
    assert inhibitor.inhibitions({"severity": "warning"}, now=T0)


def test_status_resolved_alert_is_not_a_source() -> None:
    inhibitor = Inhibitor(RULES[:1])
    inhibitor.observe(
        Alert(labels={"severity": "critical"}, starts_at=T0, status=AlertStatus.RESOLVED)
    )
    assert inhibitor.inhibitions({"severity": "warning"}, now=T0) == []
