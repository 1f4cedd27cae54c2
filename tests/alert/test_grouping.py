"""Aggregation groups and the dispatcher: timing, only-changes notifications, resolutions after
silences, inhibition, flapping, time intervals, restart state and the route-test explanation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from watchkeeper.alert.dispatch import Dispatcher, HandlingConfig
from watchkeeper.alert.flapping import FlapTracker
from watchkeeper.alert.grouping import Notification, NotifyReason
from watchkeeper.alert.matchers import parse_matchers
from watchkeeper.alert.model import Alert, AlertStatus, ConfigError, fingerprint
from watchkeeper.alert.mute import MuteKind, Silences
from watchkeeper.clock import ManualClock

T0 = 1_700_000_000.0  # a Tuesday, 22:13 UTC


def config(**route: Any) -> HandlingConfig:
    base: dict[str, Any] = {
        "receiver": "team",
        "group_by": ["alertname"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    }
    return HandlingConfig.from_dict({"route": base | route})


def alert(name: str, clock: ManualClock, **labels: str) -> Alert:
    return Alert(labels={"alertname": name, **labels}, starts_at=clock.time())


def resolved(original: Alert, clock: ManualClock) -> Alert:
    return replace(original, ends_at=clock.time(), status=AlertStatus.RESOLVED)


def names(alerts: tuple[Alert, ...]) -> list[str]:
    return [a.labels.get("instance", a.labels["alertname"]) for a in alerts]


def setup(cfg: HandlingConfig | None = None, **kwargs: Any) -> tuple[ManualClock, Dispatcher]:
    clock = ManualClock(T0)
    return clock, Dispatcher(cfg or config(), clock=clock, **kwargs)


def step(clock: ManualClock, dispatcher: Dispatcher, seconds: float) -> list[Notification]:
    clock.advance(seconds)
    return dispatcher.flush_due()


def test_fingerprint_is_alertmanagers() -> None:
    # Value read back from a real Alertmanager 0.25 (GET /api/v2/alerts) for these labels.
    assert fingerprint({"alertname": "Down", "instance": "a:9100"}) == "2d96b846feda2766"


def test_new_group_waits_group_wait() -> None:
    clock, dispatcher = setup()
    dispatcher.receive(alert("Down", clock))
    assert step(clock, dispatcher, 29) == []
    (sent,) = step(clock, dispatcher, 1)
    assert names(sent.firing) == ["Down"]


def test_alert_that_already_waited_is_flushed_at_once() -> None:
    _clock, dispatcher = setup()
    dispatcher.receive(Alert(labels={"alertname": "Old"}, starts_at=T0 - 600))
    assert names(dispatcher.flush_due()[0].firing) == ["Old"]


def test_next_flush_at_reports_the_earliest_timer() -> None:
    clock, dispatcher = setup()
    assert dispatcher.next_flush_at() is None
    dispatcher.receive(alert("Down", clock))
    assert dispatcher.next_flush_at() == T0 + 30


def test_later_alert_waits_for_group_interval_and_only_it_is_sent() -> None:
    clock, dispatcher = setup()
    dispatcher.receive(alert("Down", clock, instance="a"))
    step(clock, dispatcher, 30)
    clock.advance(10)
    dispatcher.receive(alert("Down", clock, instance="b"))
    assert step(clock, dispatcher, 289) == []  # 299 s after the first flush
    (sent,) = step(clock, dispatcher, 1)
    assert names(sent.firing) == ["b"]  # not the whole group again (#2686)
    assert (sent.summary.firing, sent.summary.unchanged) == (2, 1)


def test_unchanged_group_is_silent_until_repeat_interval() -> None:
    clock, dispatcher = setup()
    dispatcher.receive(alert("Down", clock))
    step(clock, dispatcher, 30)
    quiet = [n for _ in range(47) for n in step(clock, dispatcher, 300)]  # 3 h 55 min
    (reminder,) = step(clock, dispatcher, 300)
    assert quiet == []
    assert reminder.reason is NotifyReason.REPEAT
    assert (names(reminder.reminders), reminder.firing) == (["Down"], ())


def test_resolution_is_sent_alone() -> None:
    clock, dispatcher = setup()
    a = alert("Down", clock, instance="a")
    dispatcher.receive(a)
    dispatcher.receive(alert("Down", clock, instance="b"))
    step(clock, dispatcher, 30)
    dispatcher.receive(resolved(a, clock))
    (sent,) = step(clock, dispatcher, 300)
    assert (names(sent.resolved), sent.firing, sent.summary.unchanged) == (["a"], (), 1)
    assert sent.resolved[0].status is AlertStatus.RESOLVED


def test_alert_resolved_before_first_flush_is_never_sent() -> None:
    clock, dispatcher = setup()
    a = alert("Blip", clock)
    dispatcher.receive(a)
    clock.advance(10)
    dispatcher.receive(resolved(a, clock))
    assert step(clock, dispatcher, 20) == []
    assert dispatcher.groups == {}


def test_ends_at_in_the_past_counts_as_resolved() -> None:
    clock, dispatcher = setup()
    dispatcher.receive(Alert(labels={"alertname": "Down"}, starts_at=T0, ends_at=T0 + 200))
    step(clock, dispatcher, 30)
    (sent,) = step(clock, dispatcher, 300)
    assert names(sent.resolved) == ["Down"]


def test_duplicate_alerts_are_one_and_keep_their_start() -> None:
    clock, dispatcher = setup()
    first = alert("Down", clock)
    dispatcher.receive(first)
    clock.advance(15)
    dispatcher.receive(alert("Down", clock))
    (sent,) = step(clock, dispatcher, 15)
    assert [a.starts_at for a in sent.firing] == [first.starts_at]


def test_group_by_separates_groups() -> None:
    clock, dispatcher = setup()
    dispatcher.receive(alert("Down", clock))
    dispatcher.receive(alert("DiskFull", clock))
    sent = step(clock, dispatcher, 30)
    assert sorted(n.group_labels["alertname"] for n in sent) == ["DiskFull", "Down"]


def test_continue_notifies_every_matching_route() -> None:
    cfg = config(
        routes=[
            {"matchers": ['team="db"'], "receiver": "db", "continue": True},
            {"matchers": ['severity="critical"'], "receiver": "pager"},
        ]
    )
    clock, dispatcher = setup(cfg)
    dispatcher.receive(alert("Down", clock, team="db", severity="critical"))
    assert sorted(n.receiver for n in step(clock, dispatcher, 30)) == ["db", "pager"]


def silence_all(silences: Silences, clock: ManualClock, matchers: str = 'alertname="Down"') -> str:
    return silences.create(
        matchers=parse_matchers(matchers),
        starts_at=clock.time(),
        ends_at=clock.time() + 86400,
        created_by="ops",
        comment="known",
        now=clock.time(),
    ).id


@pytest.mark.parametrize(("after_silence", "expected"), [(False, []), (True, ["Down"])])
def test_resolution_of_alert_silenced_while_firing(
    after_silence: bool, expected: list[str]
) -> None:
    silences = Silences()
    clock, dispatcher = setup(config(send_resolved_after_silence=after_silence), silences=silences)
    a = alert("Down", clock)
    dispatcher.receive(a)
    step(clock, dispatcher, 30)  # firing notified
    silence_all(silences, clock)
    assert step(clock, dispatcher, 300) == []
    dispatcher.receive(resolved(a, clock))
    sent = step(clock, dispatcher, 300)
    assert [name for n in sent for name in names(n.resolved)] == expected  # #226


def test_alert_silenced_from_the_start_never_notifies() -> None:
    silences = Silences()
    clock, dispatcher = setup(config(send_resolved_after_silence=True), silences=silences)
    silence_all(silences, clock)
    a = alert("Down", clock)
    dispatcher.receive(a)
    assert step(clock, dispatcher, 30) == []
    dispatcher.receive(resolved(a, clock))
    assert step(clock, dispatcher, 300) == []


def test_send_resolved_false_sends_no_resolution() -> None:
    clock, dispatcher = setup(config(send_resolved=False))
    a = alert("Down", clock)
    dispatcher.receive(a)
    step(clock, dispatcher, 30)
    dispatcher.receive(resolved(a, clock))
    assert step(clock, dispatcher, 300) == []


def test_inhibited_alert_is_counted_not_sent() -> None:
    cfg = HandlingConfig.from_dict(
        {
            "route": {"receiver": "team", "group_by": ["cluster"]},
            "inhibit_rules": [
                {
                    "source_matchers": ['severity="critical"'],
                    "target_matchers": ['severity="warning"'],
                    "equal": ["cluster"],
                }
            ],
        }
    )
    clock, dispatcher = setup(cfg)
    dispatcher.receive(alert("ClusterDown", clock, severity="critical", cluster="a"))
    dispatcher.receive(alert("HighLatency", clock, severity="warning", cluster="a"))
    (sent,) = step(clock, dispatcher, 30)
    assert names(sent.firing) == ["ClusterDown"]
    assert sent.summary.muted == 1


def test_flapping_alert_is_notified_once_then_its_final_state() -> None:
    clock, dispatcher = setup(flaps=FlapTracker(threshold=4, window=600))
    a = alert("Flappy", clock)
    dispatcher.receive(a)
    sent = step(clock, dispatcher, 30)  # firing notified
    for _ in range(6):  # resolve and fire again every minute
        clock.advance(30)
        dispatcher.receive(resolved(a, clock))
        sent += dispatcher.flush_due()
        clock.advance(30)
        a = alert("Flappy", clock)
        dispatcher.receive(a)
        sent += dispatcher.flush_due()
    clock.advance(30)
    dispatcher.receive(resolved(a, clock))
    for _ in range(6):  # then stays resolved
        sent += step(clock, dispatcher, 300)
    kinds = [
        ("firing", len(n.firing), "flapping", len(n.flapping), "resolved", len(n.resolved))
        for n in sent
    ]
    assert kinds == [
        ("firing", 1, "flapping", 0, "resolved", 0),
        ("firing", 0, "flapping", 1, "resolved", 0),
        ("firing", 0, "flapping", 0, "resolved", 1),
    ]


def test_upstream_flapping_flag_is_notified_once() -> None:
    clock, dispatcher = setup()
    dispatcher.receive(replace(alert("Flappy", clock), flapping=True))
    (sent,) = step(clock, dispatcher, 30)
    assert (names(sent.flapping), sent.firing) == (["Flappy"], ())
    dispatcher.receive(replace(alert("Flappy", clock), flapping=True))
    assert step(clock, dispatcher, 300) == []


NIGHTS = [
    {
        "name": "nights",
        "time_intervals": [{"times": [{"start_time": "22:00", "end_time": "24:00"}]}],
    }
]


def test_mute_time_interval_holds_notifications_until_it_ends() -> None:
    cfg = HandlingConfig.from_dict(
        {
            "time_intervals": NIGHTS,
            "route": {
                "receiver": "team",
                "routes": [{"matchers": ['team="db"'], "mute_time_intervals": ["nights"]}],
            },
        }
    )
    clock, dispatcher = setup(cfg)  # 22:13:20 UTC
    dispatcher.receive(alert("Down", clock, team="db"))
    held = step(clock, dispatcher, 30) + [
        n for _ in range(21) for n in step(clock, dispatcher, 300)
    ]
    assert held == []  # every flush from 22:13:50 to 23:58:50
    (sent,) = step(clock, dispatcher, 300)  # 00:03:50
    assert names(sent.firing) == ["Down"]


def test_active_time_interval_sends_only_inside_it() -> None:
    cfg = HandlingConfig.from_dict(
        {
            "time_intervals": NIGHTS,
            "route": {"receiver": "team", "routes": [{"active_time_intervals": ["nights"]}]},
        }
    )
    clock, dispatcher = setup(cfg)
    clock.advance(2 * 3600)  # 00:13 UTC: outside the active interval
    dispatcher.receive(alert("Down", clock))
    assert step(clock, dispatcher, 30) == []
    clock.set(T0 + 24 * 3600 - 10 * 60)  # 22:03 the next evening
    (sent,) = dispatcher.flush_due()
    assert names(sent.firing) == ["Down"]


def test_restart_neither_renotifies_nor_forgets_resolutions() -> None:
    clock, dispatcher = setup()
    a = alert("Down", clock)
    dispatcher.receive(a)
    step(clock, dispatcher, 30)
    saved = dispatcher.to_dict()
    restarted = Dispatcher(config(), clock=clock)
    restarted.restore(saved)
    restarted.receive(alert("Down", clock))  # Prometheus re-sends the firing alert
    assert step(clock, restarted, 300) == []
    restarted.receive(resolved(a, clock))
    (sent,) = step(clock, restarted, 300)
    assert names(sent.resolved) == ["Down"]


def test_explain_lists_routes_silences_inhibitions_and_time_mutes() -> None:
    cfg = HandlingConfig.from_dict(
        {
            "time_intervals": NIGHTS,
            "route": {
                "receiver": "team",
                "routes": [
                    {"matchers": ['team="db"'], "receiver": "db", "mute_time_intervals": ["nights"]}
                ],
            },
            "inhibit_rules": [
                {"source_matchers": ['alertname="ClusterDown"'], "target_matchers": ['team="db"']}
            ],
        }
    )
    silences = Silences()
    clock, dispatcher = setup(cfg, silences=silences)
    sid = silence_all(silences, clock, 'team="db"')
    dispatcher.receive(alert("ClusterDown", clock))
    explanation = dispatcher.explain({"alertname": "Slow", "team": "db"})
    assert [d.route.receiver for d in explanation.decisions] == ["db"]
    assert explanation.decisions[0].time_muted is not None
    kinds = [(m.kind, m.silence_ids) for m in explanation.mutes]
    assert kinds == [(MuteKind.INHIBITION, ()), (MuteKind.SILENCE, (sid,))]
    assert explanation.to_dict()["would_notify"] is False


def test_unknown_top_level_field_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        HandlingConfig.from_dict({"route": {"receiver": "r"}, "inhibit_rule": []})
    assert info.value.path == "inhibit_rule"
