"""Tenant regexes run on RE2 (linear time, Go syntax), anchored as Prometheus anchors them.

The ReDoS case is the one from the hardening issue: `(a+)+b` against a label of a's made
Python's backtracking `re` run for seconds, holding the GIL, so every request stalled.
Tests of `watchkeeper.domain.regex` itself import it inside, so that the behaviour tests also
run (and fail) against the code before it existed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.conftest import Env, TenantFixture
from watchkeeper.alert.matchers import MatcherParseError, legacy_matchers, parse_matchers
from watchkeeper.alert.model import ConfigError
from watchkeeper.domain.series import Matcher, MatchOp
from watchkeeper.query.functions import label_replace
from watchkeeper.query.values import InstantVector

# The database plays no part here; SQLite alone keeps the HTTP tests quick.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# 25 a's: the backtracking engine needs seconds (2**25 steps; each more doubles it), RE2
# microseconds.
EVIL_VALUE = "a" * 25


@pytest.fixture
def limits() -> Iterator[None]:
    """Tests that set limits leave the process-wide defaults behind them."""
    yield
    from watchkeeper.domain import regex

    regex.configure(regex.RegexLimits())


def _push(env: Env, headers: dict[str, str], labels: dict[str, str]) -> None:
    body = [{"metric": "up", "labels": labels, "samples": [[env.clock.time(), 1.0]]}]
    response = env.client.post("/api/v1/ingest", headers=headers, json=body)
    assert response.status_code == 200, response.text


def _query(env: Env, headers: dict[str, str], query: str) -> Any:
    return env.client.get("/api/v1/query", headers=headers, params={"query": query})


@sqlite_only
def test_catastrophic_pattern_answers_at_once_and_liveness_is_not_stalled(
    env: Env, acme: TenantFixture
) -> None:
    _push(env, acme.key, {"job": EVIL_VALUE})
    started = threading.Event()
    timings: dict[str, float] = {}

    def evil_query() -> None:
        started.set()
        begin = time.perf_counter()
        response = _query(env, acme.key, '{job=~"(a+)+b"}')
        timings["query"] = time.perf_counter() - begin
        assert response.status_code == 200 and response.json()["data"]["result"] == []

    worker = threading.Thread(target=evil_query)
    worker.start()
    started.wait()
    begin = time.perf_counter()
    assert env.client.get("/health/live").status_code == 200
    timings["live"] = time.perf_counter() - begin
    worker.join()
    assert timings["query"] < 1.0 and timings["live"] < 1.0, timings


@sqlite_only
def test_catastrophic_pattern_is_linear_on_every_query_path(env: Env, acme: TenantFixture) -> None:
    _push(env, acme.key, {"job": EVIL_VALUE})
    begin = time.perf_counter()
    replaced = _query(env, acme.key, 'label_replace(up, "x", "$1", "job", "(a+)+b")')
    series = env.client.get(
        "/api/v1/series", headers=acme.key, params={"match[]": 'up{job!~"(a+)+b"}'}
    )
    elapsed = time.perf_counter() - begin
    assert replaced.status_code == 200 and series.status_code == 200
    assert [s["job"] for s in series.json()["data"]] == [EVIL_VALUE]
    assert elapsed < 1.0, elapsed


def test_catastrophic_pattern_is_linear_in_alert_matchers() -> None:
    [matcher] = parse_matchers('job=~"(a+)+b"')
    begin = time.perf_counter()
    assert not matcher.matches(EVIL_VALUE)
    assert time.perf_counter() - begin < 0.5


@sqlite_only
def test_syntax_go_refuses_is_400_with_the_reason(env: Env, acme: TenantFixture) -> None:
    _push(env, acme.key, {"job": "api"})
    cases = {
        '{job=~"a{2000}"}': "invalid repetition size",  # Go caps repeats at 1000
        'label_replace(up, "x", "$1", "job", "(?=a)(a)")': "invalid perl operator: (?=",
        'label_replace(up, "x", "$1", "job", "(a)\\\\1")': "invalid escape sequence: \\1",
        'label_replace(up, "x", "$1", "job", "(?<!b)a")': "invalid perl operator: (?<!",
    }
    for query, reason in cases.items():
        response = _query(env, acme.key, query)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["errorType"] == "bad_data" and reason in response.json()["error"]


@sqlite_only
def test_pattern_over_the_configured_length_is_400_naming_the_limit(
    env: Env, acme: TenantFixture, limits: None
) -> None:
    changed = env.client.put(
        "/admin/config", headers=env.login(), json={"security": {"max_regex_length": 100}}
    )
    assert changed.status_code == 200, changed.text
    _push(env, acme.key, {"job": "api"})
    at_limit = "|".join(["api"] * 25)  # 99 characters
    assert _query(env, acme.key, f'{{job=~"{at_limit}"}}').status_code == 200
    response = _query(env, acme.key, f'{{job=~"{at_limit}|x"}}')
    assert response.status_code == 400, response.text
    assert "security.max_regex_length" in response.json()["error"]


@sqlite_only
def test_silence_regexes_are_re2(env: Env, acme: TenantFixture) -> None:
    def silence(value: str) -> Any:
        now = env.clock.now()
        body = {
            "matchers": [{"name": "alertname", "value": value, "isRegex": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now.replace(year=now.year + 1)).isoformat(),
            "createdBy": "ops",
            "comment": "test",
        }
        return env.client.post("/api/v2/silences", json=body, headers=acme.admin)

    lookahead = silence("(?=High)HighCpu")
    assert lookahead.status_code == 422 and "invalid perl operator" in lookahead.text
    # A leading flag group is fine (Python's `re` refused it inside the anchoring wrapper).
    assert silence("(?i)highcpu").status_code == 200


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (".*", "", True),
        (".*", "line\nbreak", True),  # (?s): dot matches newline, as in Prometheus
        (".+", "", False),
        ("", "", True),
        ("", "x", False),
        ("a|b", "ab", False),  # anchored around the whole alternation
        ("web", "webserver", False),
        ("a", "a\n", False),  # `$` is the end of text, not "before a final newline"
        ("[a-c]+", "cab", True),
        ("[^a-c]", "d", True),
        ("(?i)WEB-.*", "web-1", True),
        ("(?i:A)b", "ab", True),
        (r"\d+", "123", True),
        (r"\d", "\u0661", False),  # Go's \d is ASCII only
        (r"\w+", "é", False),
        (r"\pL+", "éa", True),
        ("[[:alpha:]]+", "abc", True),
        (r"\Qa.b\E", "a.b", True),
        (r"\Qa.b\E", "axb", False),
        ("foo.*", "foobar", True),
        (".*bar", "foobar", True),
        (".*ob.*", "foobar", True),
        ("(api|web)", "web", True),
        ("api.*|db", "db", True),
    ],
)
def test_prometheus_semantics(pattern: str, value: str, expected: bool) -> None:
    assert Matcher("job", MatchOp.REGEX, pattern).matches(value) is expected
    assert Matcher("job", MatchOp.NOT_REGEX, pattern).matches(value) is not expected


def test_plain_string_shortcuts_and_prefix_checks_agree_with_re2() -> None:
    from watchkeeper.domain.regex import compile_anchored

    patterns = [
        "", "foo", "foo.*", ".*foo", ".*foo.*", ".*", ".+", ".*.*", "a|b|", "foo.*|bar",
        "(foo|bar.*)", "(?:foo.*|.*)", "foo-1|foo-1.*", "é.*", "(|x)",
        # RE2 proper, behind a literal-prefix check
        "fo?o", "foo*", "fo{0}o", "foo-[0-9]+", "f.o.*", "foo(?i)BAR", "foo$", "fo(o|x)bar",
    ]  # fmt: skip
    values = [
        "", "foo", "foobar", "fooBAR", "barfoo", "xfoox", "bar", "fo", "fooo", "foo-12", "a",
        "x", "é", "\n", "foo\n",
    ]  # fmt: skip
    for pattern in patterns:
        fast = compile_anchored(pattern)
        reference = compile_anchored(pattern, captures=True)  # always asks RE2
        for value in values:
            expected = reference.groups(value) is not None
            assert fast.fullmatch(value) is expected, (pattern, value)


def test_alertmanager_matchers_stay_anchored_and_refuse_perl_only_syntax() -> None:
    [matcher] = parse_matchers('service=~"api|web"')
    assert matcher.matches("web") and not matcher.matches("webapp")
    with pytest.raises(MatcherParseError, match="invalid perl operator"):
        parse_matchers('service=~"(?!db).*"')
    with pytest.raises(ConfigError, match="invalid escape sequence"):
        legacy_matchers("route", {"match_re": {"service": r"(a)\1"}})


def test_label_replace_expands_groups_and_names() -> None:
    vector = InstantVector(
        [(("__name__", "up"), ("instance", "Host-1:9100"))], np.ones((1, 1)), np.ones((1, 1), bool)
    )
    pattern = r"(?i)(host-\d+):(?P<port>.*)"  # a flag group first: Python's re refused it here
    out = label_replace(vector, "host", "$1/${port}/$9/$$", "instance", pattern)
    assert dict(out.labels[0])["host"] == "Host-1/9100//$"


def test_limits_name_their_settings(limits: None) -> None:
    from watchkeeper.domain import regex
    from watchkeeper.domain.regex import RegexError, RegexLimits, compile_anchored

    regex.configure(RegexLimits(max_length=64, max_memory_bytes=64 * 1024))
    with pytest.raises(RegexError, match=r"security\.max_regex_length"):
        compile_anchored("x" * 65)
    with pytest.raises(RegexError, match=r"security\.max_regex_memory_bytes"):
        compile_anchored(r"\pL{1000}")
    assert compile_anchored("x" * 64).fullmatch("x" * 64)


def test_compiled_patterns_are_kept_in_a_bounded_cache() -> None:
    from watchkeeper.domain import regex
    from watchkeeper.domain.regex import compile_anchored

    for i in range(regex.CACHE_SIZE + 50):
        compile_anchored(f"bounded-{i}-.+")
    info = regex._compile.cache_info()
    assert info.maxsize == regex.CACHE_SIZE and info.currsize <= regex.CACHE_SIZE
