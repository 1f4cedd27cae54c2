"""The text exposition parser against the format's tricky corners."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from watchkeeper.ingest.exposition import ExpositionError, parse_exposition


def test_comments_help_type_and_blank_lines() -> None:
    text = (
        "# A free comment\n"
        "# HELP http_requests_total Requests, with a \\\\ and a\\nnewline.\n"
        "# TYPE http_requests_total counter\n"
        "\n"
        'http_requests_total{method="post",code="200"} 1027 1395066363000\n'
        "   \t\n"
    )

    parsed = parse_exposition(text)

    assert parsed.types == {"http_requests_total": "counter"}
    assert parsed.help["http_requests_total"] == "Requests, with a \\ and a\nnewline."
    [sample] = parsed.samples
    assert sample.labels == {"method": "post", "code": "200"}
    assert (sample.value, sample.timestamp_ms) == (1027.0, 1395066363000)


def test_label_value_escapes() -> None:
    text = (
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",'
        'error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9\n'
    )
    [sample] = parse_exposition(text).samples
    assert sample.labels == {
        "path": "C:\\DIR\\FILE.TXT",
        "error": 'Cannot find file:\n"FILE.TXT"',
    }
    assert sample.value == 1.458255915e9


def test_values_nan_inf_and_negative_timestamps() -> None:
    text = "a NaN\nb +Inf\nc -Inf\nd -1.5e-3 -10\ne{} 0x1p3\n"
    samples = parse_exposition(text).samples
    assert math.isnan(samples[0].value)
    assert [s.value for s in samples[1:]] == [math.inf, -math.inf, -0.0015, 8.0]
    assert samples[3].timestamp_ms == -10


def test_counter_without_total_keeps_its_name() -> None:
    # prometheus_client's parser would rename this sample to foo_total; Prometheus does not.
    samples = parse_exposition("# TYPE foo counter\nfoo 3\n").samples
    assert samples[0].name == "foo"


def test_histogram_and_summary_series_keep_their_suffixes() -> None:
    registry = CollectorRegistry()
    Histogram("latency_seconds", "l", buckets=(0.1, 1.0), registry=registry).observe(0.5)
    Counter("jobs", "j", ["queue"], registry=registry).labels(queue='a"b\\c').inc(2)

    parsed = parse_exposition(generate_latest(registry).decode())

    names = {(s.name, s.labels.get("le")) for s in parsed.samples}
    assert {
        ("latency_seconds_bucket", "0.1"),
        ("latency_seconds_bucket", "1.0"),
        ("latency_seconds_bucket", "+Inf"),
        ("latency_seconds_sum", None),
        ("latency_seconds_count", None),
    } <= names
    jobs = [s for s in parsed.samples if s.name == "jobs_total"]
    assert jobs[0].labels == {"queue": 'a"b\\c'} and jobs[0].value == 2.0


def test_label_values_may_hold_braces_commas_and_spaces() -> None:
    [sample] = parse_exposition('m{a="x}, y=\\"z\\"",b="2",} 7\n').samples
    assert sample.labels == {"a": 'x}, y="z"', "b": "2"}


@pytest.mark.parametrize(
    "line",
    [
        "no_value",
        "m{a=1} 1",  # unquoted label value
        'm{a="1" b="2"} 1',  # missing comma
        'm{a="1",a="2"} 1',  # repeated label
        "m 1_000",  # Go floats have no underscores
        "m 1 2 3",
        "m 1 1.5",  # timestamps are integers
        "0m 1",
        "# TYPE m bogus",
        'm{__name__="x"} 1',
    ],
)
def test_malformed_lines_fail_the_whole_body_naming_the_line(line: str) -> None:
    with pytest.raises(ExpositionError) as raised:
        parse_exposition(f"ok 1\n{line}\n")
    assert raised.value.line_number == 2
