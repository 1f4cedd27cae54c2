"""Alertmanager matcher syntax: parsing, errors with positions, anchored regex matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchkeeper.alert.matchers import (
    MatcherParseError,
    format_matcher,
    matchers_from_config,
    matches,
    parse_matcher,
    parse_matchers,
)
from watchkeeper.alert.model import ConfigError
from watchkeeper.domain.series import Matcher, MatchOp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('alertname="Down"', [Matcher("alertname", MatchOp.EQUAL, "Down")]),
        ('env!="prod"', [Matcher("env", MatchOp.NOT_EQUAL, "prod")]),
        ('sev=~"warn|crit"', [Matcher("sev", MatchOp.REGEX, "warn|crit")]),
        ('sev!~"info"', [Matcher("sev", MatchOp.NOT_REGEX, "info")]),
        ("job=node", [Matcher("job", MatchOp.EQUAL, "node")]),  # classic unquoted value
        ("  job = node exporter ", [Matcher("job", MatchOp.EQUAL, "node exporter")]),
        (
            '{a="b", c=~"d.*",}',
            [Matcher("a", MatchOp.EQUAL, "b"), Matcher("c", MatchOp.REGEX, "d.*")],
        ),
        ('a="x\\"y\\\\z\\n"', [Matcher("a", MatchOp.EQUAL, 'x"y\\z\n')]),
        ('"service.name"="api"', [Matcher("service.name", MatchOp.EQUAL, "api")]),
        ('a=""', [Matcher("a", MatchOp.EQUAL, "")]),
        ("{}", []),
    ],
)
def test_parse_matchers(text: str, expected: list[Matcher]) -> None:
    assert parse_matchers(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ('{a="b"', 6, "missing closing '}'"),
        ("a", 1, "expected one of"),
        ("=x", 0, "expected a label name"),
        ('a="b" c="d"', 6, "expected ','"),
        ('a="unterminated', 2, "unterminated"),
        ('a="\\q"', 3, "invalid escape"),
        ('a=~"("', 0, "invalid regex"),
        ("", 0, "no matcher"),
    ],
)
def test_parse_errors_point_at_the_problem(text: str, position: int, message: str) -> None:
    with pytest.raises(MatcherParseError) as info:
        parse_matchers(text)
    assert info.value.position == position
    assert message in str(info.value)


def test_parse_matcher_requires_exactly_one() -> None:
    with pytest.raises(MatcherParseError, match="expected one matcher, found 2"):
        parse_matcher('a="b", c="d"')


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('job=~"web"', {"job": "web"}, True),
        ('job=~"web"', {"job": "webserver"}, False),  # anchored at the end
        ('job=~"web"', {"job": "oldweb"}, False),  # anchored at the start
        ('job=~"web.*"', {"job": "webserver"}, True),
        ('job!~"web"', {"job": "webserver"}, True),
        ('job=~"a|b"', {"job": "b"}, True),  # alternation stays inside the anchors
        ('job=~"a|b"', {"job": "ab"}, False),
        ('job=""', {}, True),  # absent label is the empty string
        ('job!=""', {}, False),
        ('job=~".*"', {}, True),
        ('job=~".+"', {}, False),
        ('msg=~"a.b"', {"msg": "a\nb"}, True),  # dot matches newline, as in Prometheus
    ],
)
def test_matching(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert matches([parse_matcher(matcher)], labels) is expected


def test_all_matchers_must_match() -> None:
    parsed = parse_matchers('{a="1", b="2"}')
    assert matches(parsed, {"a": "1", "b": "2"})
    assert not matches(parsed, {"a": "1", "b": "3"})


@pytest.mark.parametrize(
    "matcher",
    [
        Matcher("a", MatchOp.EQUAL, 'q"uo\\te'),
        Matcher("a.b", MatchOp.NOT_REGEX, "x|y"),
        Matcher("a", MatchOp.NOT_EQUAL, "line\nbreak"),
    ],
)
def test_format_round_trips(matcher: Matcher) -> None:
    assert parse_matcher(format_matcher(matcher)) == matcher


def test_config_errors_name_the_list_item() -> None:
    with pytest.raises(ConfigError) as info:
        matchers_from_config("route.routes[2].matchers", ['a="b"', 'c=~"("'])
    assert info.value.path == "route.routes[2].matchers[1]"


@given(
    name=st.text(min_size=1, max_size=12),
    value=st.text(max_size=20),
    op=st.sampled_from([MatchOp.EQUAL, MatchOp.NOT_EQUAL]),
)
def test_any_label_text_round_trips(name: str, value: str, op: MatchOp) -> None:
    matcher = Matcher(name, op, value)
    assert parse_matchers("{" + format_matcher(matcher) + "}") == [matcher]
