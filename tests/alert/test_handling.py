"""The handling configuration's default (file or built in) and its validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.alert import handling
from watchkeeper.alert.model import ConfigError


def test_built_in_default_routes_everything_to_default_by_alertname() -> None:
    config = handling.HandlingDefaults(None).get()
    assert config.source == "default"
    (route,) = config.config.tree.route_for({"alertname": "X"})
    assert (route.receiver, route.group_by) == ("default", ("alertname",))
    assert (route.group_wait, route.group_interval, route.repeat_interval) == (30, 300, 14400)


def test_file_default_is_read_relative_to_the_config_and_errors_name_it(tmp_path: Path) -> None:
    (tmp_path / "alerting.yaml").write_text("route: {receiver: team, group_wait: 5s}\n")
    config = handling.HandlingDefaults(Path("alerting.yaml"), base=tmp_path).get()
    assert config.source == "file" and config.config.tree.root.group_wait == 5
    (tmp_path / "bad.yaml").write_text("route: {receiver: team, group_wait: soon}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: route.group_wait"):
        handling.HandlingDefaults(tmp_path / "bad.yaml").get()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("route: [", "(yaml)"),
        ("- just a list", "(root)"),
        ("route: {receiver: a, routes: [{matchers: ['x=~\"(\"']}]}", "route.routes[0].matchers"),
        ("route: {receiver: a}\ninhibit_rules: [{equal: 3}]", "inhibit_rules[0].equal"),
    ],
)
def test_parse_names_the_bad_key(text: str, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        handling.parse(text)
    assert caught.value.path.startswith(path)


def test_a_stored_start_never_reads_back_after_the_instant_it_was_taken() -> None:
    """A silence starting "now" must be active now: the stored microseconds, read back,
    may not exceed the float they came from (0.6 % of random instants did before the fix)."""
    import random

    from watchkeeper.alert.silence_store import _stored

    rng = random.Random(7)
    instants = [1_795_829_351 + rng.random() for _ in range(20_000)]
    assert all(_stored(t).timestamp() <= t for t in instants)
    assert all(t - _stored(t).timestamp() < 2e-6 for t in instants)
