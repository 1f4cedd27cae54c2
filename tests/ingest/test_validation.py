"""Validation of ingest batches: accepted whole, or each rejected sample listed with a reason."""

from __future__ import annotations

import numpy as np

from watchkeeper.domain.series import STALE_NAN, SeriesSamples, is_stale_nan, labels_from_dict
from watchkeeper.ingest.validation import (
    AcceptedBatch,
    BatchValidator,
    IngestLimits,
    RejectedBatch,
    RejectReason,
    validate_batch,
)

NOW_MS = 1_700_000_000_000


def series(labels: dict[str, str], ts: list[int], values: list[float]) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict(labels), np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64)
    )


def rejected(outcome: AcceptedBatch | RejectedBatch) -> RejectedBatch:
    assert isinstance(outcome, RejectedBatch), outcome
    return outcome


def test_valid_batch_is_accepted_with_values_kept_bit_for_bit() -> None:
    values = [1.5, float("nan"), float("inf"), float("-inf"), STALE_NAN]
    batch = [series({"__name__": "up", "job": "a"}, [NOW_MS + i for i in range(5)], values)]

    outcome = validate_batch(batch, NOW_MS)

    assert isinstance(outcome, AcceptedBatch)
    out = outcome.series[0].values
    assert out.view(np.uint64).tolist() == np.array(values).view(np.uint64).tolist()
    assert is_stale_nan(out).tolist() == [False, False, False, False, True]


def test_bad_metric_and_label_names_reject_the_whole_batch() -> None:
    good = series({"__name__": "up"}, [NOW_MS], [1.0])
    bad = series({"__name__": "1up", "0bad": "x", "__reserved": "y"}, [NOW_MS, NOW_MS + 1], [1, 2])

    outcome = rejected(validate_batch([good, bad], NOW_MS))

    reasons = {r.reason for r in outcome.rejections}
    assert reasons == {
        RejectReason.INVALID_METRIC_NAME,
        RejectReason.INVALID_LABEL_NAME,
        RejectReason.RESERVED_LABEL_NAME,
    }
    assert all(r.series_index == 1 and r.samples == 2 for r in outcome.rejections)
    assert outcome.rejected_by_reason[RejectReason.INVALID_METRIC_NAME] == 2


def test_missing_metric_name_is_rejected() -> None:
    outcome = rejected(validate_batch([series({"job": "a"}, [NOW_MS], [1.0])], NOW_MS))
    assert [r.reason for r in outcome.rejections] == [RejectReason.MISSING_METRIC_NAME]


def test_length_and_count_limits_are_enforced_in_utf8_bytes() -> None:
    limits = IngestLimits(
        max_label_name_length=8, max_label_value_length=4, max_labels_per_series=3
    )
    batch = [
        series({"__name__": "m", "a": "é" * 3}, [NOW_MS], [1.0]),  # 6 bytes > 4
        series({"__name__": "m", "very_long_name": "x"}, [NOW_MS], [1.0]),
        series({"__name__": "m", "a": "1", "b": "2", "c": "3"}, [NOW_MS], [1.0]),
    ]

    outcome = rejected(validate_batch(batch, NOW_MS, limits))

    assert [(r.series_index, r.reason) for r in outcome.rejections] == [
        (0, RejectReason.LABEL_VALUE_TOO_LONG),
        (1, RejectReason.LABEL_NAME_TOO_LONG),
        (2, RejectReason.TOO_MANY_LABELS),
    ]


def test_label_value_that_is_not_utf8_is_rejected() -> None:
    bad = series({"__name__": "m", "a": "\ud800"}, [NOW_MS], [1.0])
    outcome = rejected(validate_batch([bad], NOW_MS))
    assert outcome.rejections[0].reason is RejectReason.INVALID_LABEL_VALUE


def test_duplicate_label_names_are_rejected() -> None:
    labels = (("__name__", "m"), ("a", "1"), ("a", "2"))
    bad = SeriesSamples(labels, np.array([NOW_MS]), np.array([1.0]))
    outcome = rejected(validate_batch([bad], NOW_MS))
    assert outcome.rejections[0].reason is RejectReason.DUPLICATE_LABEL_NAME


def test_future_timestamps_beyond_tolerance_are_listed_per_sample() -> None:
    limits = IngestLimits(future_tolerance_seconds=60)
    ts = [NOW_MS, NOW_MS + 60_000, NOW_MS + 60_001, NOW_MS + 3_600_000]
    outcome = rejected(
        validate_batch([series({"__name__": "m"}, ts, [1, 2, 3, 4])], NOW_MS, limits)
    )

    assert [(r.sample_index, r.timestamp_ms) for r in outcome.rejections] == [
        (2, NOW_MS + 60_001),
        (3, NOW_MS + 3_600_000),
    ]
    assert outcome.rejected_by_reason == {RejectReason.TIMESTAMP_TOO_NEW: 2}


def test_samples_older_than_the_maximum_age_are_rejected_when_configured() -> None:
    limits = IngestLimits(max_sample_age_seconds=3600)
    batch = [series({"__name__": "m"}, [NOW_MS - 3_600_001, NOW_MS], [1, 2])]
    outcome = rejected(validate_batch(batch, NOW_MS, limits))
    assert [r.reason for r in outcome.rejections] == [RejectReason.TIMESTAMP_TOO_OLD]
    assert isinstance(validate_batch(batch, NOW_MS), AcceptedBatch)


def test_out_of_order_samples_are_sorted_and_exact_repeats_dropped() -> None:
    a = series({"__name__": "m", "x": "1"}, [30, 10, 20], [3, 1, 2])
    b = series({"x": "1", "__name__": "m"}, [20, 40], [2, 4])  # same series, one exact repeat

    outcome = validate_batch([a, b], NOW_MS)

    assert isinstance(outcome, AcceptedBatch)
    assert len(outcome.series) == 1
    assert outcome.series[0].timestamps.tolist() == [10, 20, 30, 40]
    assert outcome.series[0].values.tolist() == [1, 2, 3, 4]
    assert (outcome.samples, outcome.duplicates_dropped) == (4, 1)


def test_two_values_for_one_timestamp_reject_the_batch() -> None:
    batch = [series({"__name__": "m"}, [10, 10], [1.0, 2.0])]
    outcome = rejected(validate_batch(batch, NOW_MS))
    assert [(r.reason, r.timestamp_ms) for r in outcome.rejections] == [
        (RejectReason.DUPLICATE_TIMESTAMP, 10)
    ]


def test_mismatched_sample_columns_are_rejected() -> None:
    bad = SeriesSamples(labels_from_dict({"__name__": "m"}), np.array([1, 2]), np.array([1.0]))
    outcome = rejected(validate_batch([bad], NOW_MS))
    assert outcome.rejections[0].reason is RejectReason.INVALID_SAMPLES


def test_empty_label_values_are_dropped_and_labels_sorted() -> None:
    labels = (("z", "1"), ("__name__", "m"), ("empty", ""))
    outcome = validate_batch([SeriesSamples(labels, np.array([1]), np.array([1.0]))], NOW_MS)
    assert isinstance(outcome, AcceptedBatch)
    assert outcome.series[0].labels == (("__name__", "m"), ("z", "1"))


def test_listed_rejections_are_capped_but_totals_count_everything() -> None:
    validator = BatchValidator(IngestLimits(future_tolerance_seconds=0, max_rejections_listed=5))
    ts = [NOW_MS + 1 + i for i in range(50)]
    outcome = rejected(validator.validate([series({"__name__": "m"}, ts, [0.0] * 50)], NOW_MS))

    assert len(outcome.rejections) == 5
    assert outcome.rejected_samples == 50
    assert outcome.truncated
    body = outcome.to_dict()
    assert body["rejected_by_reason"] == {"timestamp_too_new": 50}
    assert body["rejections"][0]["sample_index"] == 0
