"""The JSON push format: timestamps by magnitude, non-finite values as strings, paths in errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.ingest.json_batch import (
    encode_json_batch,
    ingest_json_batch,
    parse_json_batch,
)
from watchkeeper.ingest.validation import (
    AcceptedBatch,
    BatchValidator,
    IngestLimits,
    RejectedBatch,
    RejectReason,
)

NOW_MS = 1_700_000_000_000


def ingest(body: object, limits: IngestLimits | None = None) -> AcceptedBatch | RejectedBatch:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ingest_json_batch(raw, BatchValidator(limits), NOW_MS)


def accepted(outcome: AcceptedBatch | RejectedBatch) -> AcceptedBatch:
    assert isinstance(outcome, AcceptedBatch), outcome
    return outcome


def rejected(outcome: AcceptedBatch | RejectedBatch) -> RejectedBatch:
    assert isinstance(outcome, RejectedBatch), outcome
    return outcome


def test_parses_the_documented_shape() -> None:
    body = [{"metric": "cpu_usage", "labels": {"host": "db-1"}, "samples": [[1700000000, 0.5]]}]

    outcome = accepted(ingest(body))

    only = outcome.series[0]
    assert only.labels == (("__name__", "cpu_usage"), ("host", "db-1"))
    assert only.timestamps.tolist() == [1_700_000_000_000]
    assert only.values.tolist() == [0.5]


@pytest.mark.parametrize(
    ("raw", "ms"),
    [
        (1700000000, 1_700_000_000_000),  # int seconds
        (1700000000.123, 1_700_000_000_123),  # float seconds
        (1700000000123, 1_700_000_000_123),  # int milliseconds
        (99_999_999_999, 99_999_999_999_000),  # just below the bound: seconds
        (100_000_000_000, 100_000_000_000),  # at the bound: milliseconds
    ],
)
def test_timestamp_magnitude_rule(raw: float, ms: int) -> None:
    limits = IngestLimits(future_tolerance_seconds=1e12)
    outcome = accepted(ingest([{"metric": "m", "samples": [[raw, 1]]}], limits))
    assert outcome.series[0].timestamps.tolist() == [ms]


def test_non_finite_values_as_strings() -> None:
    samples = [[1700000000, "NaN"], [1700000001, "+Inf"], [1700000002, "-Inf"], [1700000003, "2.5"]]
    values = accepted(ingest([{"metric": "m", "samples": samples}])).series[0].values.tolist()
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 2.5]


def test_wrong_types_are_reported_with_json_paths() -> None:
    body = [
        {"metric": "ok", "samples": [[1700000000, 1]]},
        {"metric": "m", "samples": [[1700000000, "high"], [1700000001, True], [None, 1], [1]]},
        {"metric": 5, "samples": []},
        "not an object",
        {"metric": "m", "sample": []},
        {"metric": "m", "labels": {"a": 1}, "samples": []},
    ]

    outcome = rejected(ingest(body))

    paths = [r.path for r in outcome.rejections]
    assert paths == [
        "[1].samples[0][1]",
        "[1].samples[1][1]",
        "[1].samples[2][0]",
        "[1].samples[3]",
        "[2].metric",
        "[3]",
        "[4]",
        "[5].labels.a",
    ]
    assert outcome.rejections[0].message == (
        '[1].samples[0][1]: value must be a number or "NaN"/"+Inf"/"-Inf"'
    )
    assert {r.reason for r in outcome.rejections} == {RejectReason.INVALID_FORMAT}


def test_format_and_validation_problems_are_reported_together() -> None:
    body = [
        {"metric": "m", "samples": [[1700000000, "x"]]},
        {"metric": "bad-name", "samples": [[1700000000, 1]]},
        {"metric": "m", "samples": [[1700000000, 1], [1800000000, 2]]},
    ]

    outcome = rejected(ingest(body))

    assert [(r.path, r.reason) for r in outcome.rejections] == [
        ("[0].samples[0][1]", RejectReason.INVALID_FORMAT),
        ("[1]", RejectReason.INVALID_METRIC_NAME),
        ("[2].samples[1]", RejectReason.TIMESTAMP_TOO_NEW),
    ]


def test_body_that_is_not_json_or_not_an_array() -> None:
    assert rejected(ingest(b"{nope")).rejections[0].reason is RejectReason.INVALID_JSON
    assert rejected(ingest({"metric": "m"})).rejections[0].path == "$"


def test_metric_name_given_twice_must_agree() -> None:
    body = [{"metric": "a", "labels": {"__name__": "b"}, "samples": [[1700000000, 1]]}]
    assert rejected(ingest(body)).rejections[0].path == "[0].labels.__name__"


def test_encode_then_parse_round_trips() -> None:
    original = [
        SeriesSamples(
            labels_from_dict({"__name__": "m", "host": "a"}),
            np.array([NOW_MS, NOW_MS + 15_000], dtype=np.int64),
            np.array([1.25, -math.inf]),
        )
    ]
    series, indices, problems = parse_json_batch(encode_json_batch(original))
    assert not problems.rejected_by_reason
    assert indices == [0]
    assert series[0].labels == original[0].labels
    assert series[0].timestamps.tolist() == original[0].timestamps.tolist()
    assert series[0].values.tolist() == original[0].values.tolist()


def test_large_batch_takes_the_vectorised_path_exactly() -> None:
    n_series, n_samples = 1_000, 100
    body = json.dumps(
        [
            {
                "metric": "node_cpu_seconds_total",
                "labels": {"cpu": str(i), "mode": "idle", "instance": "h:9100"},
                "samples": [[NOW_MS - 15_000 * j, i + j * 0.5] for j in range(n_samples)],
            }
            for i in range(n_series)
        ]
    ).encode()

    outcome = accepted(ingest(body))

    assert outcome.samples == n_series * n_samples
    last = outcome.series[-1]
    assert dict(last.labels)["cpu"] == "999"
    assert last.timestamps.tolist() == [NOW_MS - 15_000 * j for j in range(n_samples)][::-1]
    assert last.values.tolist() == [999 + j * 0.5 for j in range(n_samples)][::-1]
