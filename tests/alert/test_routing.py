"""The routing tree: matching with continue and nesting, inheritance, group keys, explanations,
config errors with paths, and agreement with Alertmanager's own `amtool config routes test`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import require_binary
from watchkeeper.alert.model import ConfigError
from watchkeeper.alert.routing import RouteTree

CONFIG = {
    "receiver": "default",
    "group_by": ["alertname"],
    "group_wait": "10s",
    "routes": [
        {
            "matchers": ['team="db"'],
            "receiver": "db",
            "continue": True,
            "routes": [
                {"matchers": ['severity="critical"'], "receiver": "db-pager", "group_by": ["..."]},
                {
                    "matchers": ['severity=~"warn.*"'],
                    "receiver": "db-warn",
                    "repeat_interval": "1h",
                },
            ],
        },
        {"matchers": ['severity=~"critical|warning"'], "receiver": "oncall"},
        {"match": {"env": "dev"}, "receiver": "dev"},
        {"matchers": ['env="dev"'], "receiver": "never-reached-after-dev"},
    ],
}
TREE = RouteTree.from_config(CONFIG)


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "db", "severity": "critical"}, ["db-pager", "oncall"]),  # continue, then sibling
        ({"team": "db", "severity": "warning"}, ["db-warn", "oncall"]),
        ({"team": "db", "severity": "info"}, ["db"]),  # no child matched: parent is the destination
        ({"team": "web", "severity": "warning"}, ["oncall"]),
        ({"env": "dev"}, ["dev"]),  # first match without continue stops the siblings
        ({"team": "web"}, ["default"]),  # nothing matched: the root
        ({}, ["default"]),
    ],
)
def test_route_for(labels: dict[str, str], receivers: list[str]) -> None:
    assert [r.receiver for r in TREE.route_for(labels)] == receivers


def test_children_inherit_settings_but_not_time_intervals() -> None:
    tree = RouteTree.from_config(
        {
            "receiver": "r",
            "group_wait": "1m",
            "repeat_interval": "2h",
            "routes": [
                {
                    "matchers": ['a="1"'],
                    "mute_time_intervals": ["night"],
                    "send_resolved_after_silence": True,
                    "routes": [{"matchers": ['b="2"'], "group_interval": "30s"}],
                }
            ],
        },
        time_intervals={"night"},
    )
    (leaf,) = tree.route_for({"a": "1", "b": "2"})
    assert (leaf.receiver, leaf.group_wait, leaf.group_interval, leaf.repeat_interval) == (
        "r",
        60.0,
        30.0,
        7200.0,
    )
    assert leaf.send_resolved_after_silence is True
    assert leaf.mute_time_intervals == ()


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        ({"alertname": "Down", "instance": "a"}, 'route:{alertname="Down"}'),
        ({"instance": "a"}, "route:{}"),  # missing group_by label: grouped without it
        (
            {"team": "db", "severity": "critical", "alertname": "X"},
            'route.routes[0].routes[0]:{alertname="X", severity="critical", team="db"}',
        ),  # group_by ['...'] groups by every label
    ],
)
def test_group_keys(labels: dict[str, str], key: str) -> None:
    assert TREE.route_for(labels)[0].group_key(labels) == key


def test_explain_says_which_matchers_matched_and_why_siblings_were_skipped() -> None:
    explanation = TREE.explain({"env": "dev", "severity": "info"})
    steps = {s.route_id: s for s in explanation.steps}
    assert steps["route.routes[1]"].checks[0].matched is False
    assert "severity=~" in steps["route.routes[1]"].outcome
    assert steps["route.routes[2]"].matched is True
    assert steps["route.routes[3]"].evaluated is False
    assert "route.routes[2] matched without continue" in steps["route.routes[3]"].outcome
    assert [r.id for r in explanation.routes] == ["route.routes[2]"]


def test_explain_mentions_continue() -> None:
    explanation = TREE.explain({"team": "db", "severity": "critical"})
    db = next(s for s in explanation.steps if s.route_id == "route.routes[0]")
    assert "continue: true" in db.outcome
    assert explanation.to_dict()["routes"][1]["receiver"] == "oncall"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"group_by": []}, "route.receiver"),
        ({"receiver": "r", "matchers": ['a="b"']}, "route.matchers"),
        ({"receiver": "r", "continue": True}, "route.continue"),
        (
            {"receiver": "r", "routes": [{}, {}, {"matchers": ['a=~"("']}]},
            "route.routes[2].matchers[0]",
        ),
        ({"receiver": "r", "routes": [{"group_wait": "5 minutes"}]}, "route.routes[0].group_wait"),
        ({"receiver": "r", "group_by": ["...", "a"]}, "route.group_by"),
        ({"receiver": "r", "group_by": ["a-b"]}, "route.group_by[0]"),
        ({"receiver": "r", "routes": [{"recevier": "x"}]}, "route.routes[0].recevier"),
        (
            {"receiver": "r", "routes": [{"mute_time_intervals": ["nope"]}]},
            "route.routes[0].mute_time_intervals[0]",
        ),
        ({"receiver": "r", "routes": [{"continue": "yes"}]}, "route.routes[0].continue"),
        ({"receiver": "r", "group_interval": "0s"}, "route.group_interval"),
    ],
)
def test_config_errors_point_at_the_problem(config: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        RouteTree.from_config(config)
    assert info.value.path == path


def test_undefined_receiver_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        RouteTree.from_config({"receiver": "r", "routes": [{"receiver": "x"}]}, receivers={"r"})
    assert str(info.value) == "route.routes[0].receiver: undefined receiver 'x'"


AMTOOL_CASES = [
    {"team": "db", "severity": "critical"},
    {"team": "db", "severity": "warning"},
    {"team": "db", "severity": "info"},
    {"team": "web", "severity": "warning"},
    {"env": "dev"},
    {"env": "dev", "severity": "critical"},
    {"team": "web"},
]


def test_routing_agrees_with_alertmanager(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    receivers = sorted({r.receiver for r in TREE})
    config = {"route": CONFIG, "receivers": [{"name": n} for n in receivers]}
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(config))
    for labels in AMTOOL_CASES:
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config_file}"]
            + [f"{k}={v}" for k, v in labels.items()],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        theirs = result.stdout.strip().split(",")
        assert [r.receiver for r in TREE.route_for(labels)] == theirs, labels
