"""What ingest validation answers: an accepted batch, or every rejected sample and why.

These are the shapes the HTTP layer turns into a 2xx or a 4xx body, and whose reason codes
label the rejected-samples metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from watchkeeper.domain.series import SeriesSamples


class RejectReason(StrEnum):
    """Why samples were refused; the values label the "rejected samples by reason" metric."""

    INVALID_JSON = "invalid_json"
    INVALID_FORMAT = "invalid_format"
    MISSING_METRIC_NAME = "missing_metric_name"
    INVALID_METRIC_NAME = "invalid_metric_name"
    INVALID_LABEL_NAME = "invalid_label_name"
    RESERVED_LABEL_NAME = "reserved_label_name"
    DUPLICATE_LABEL_NAME = "duplicate_label_name"
    LABEL_NAME_TOO_LONG = "label_name_too_long"
    LABEL_VALUE_TOO_LONG = "label_value_too_long"
    INVALID_LABEL_VALUE = "invalid_label_value"
    TOO_MANY_LABELS = "too_many_labels"
    INVALID_SAMPLES = "invalid_samples"
    TIMESTAMP_TOO_NEW = "timestamp_too_new"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    DUPLICATE_TIMESTAMP = "duplicate_timestamp"


@dataclass(frozen=True)
class Rejection:
    """One refused sample (or a whole series, when `sample_index` is None) and why.

    `series_index` is the position of the series in the submitted batch, `samples` the number
    of samples this rejection covers, `path` a location in the request body when the decoder
    knows one (e.g. `[2].samples[5][1]` for JSON).
    """

    reason: RejectReason
    message: str
    series_index: int | None = None
    sample_index: int | None = None
    timestamp_ms: int | None = None
    labels: dict[str, str] | None = None
    path: str | None = None
    samples: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one entry of a 4xx ingest response."""
        out: dict[str, Any] = {"reason": self.reason.value, "message": self.message}
        for key in ("path", "series_index", "sample_index", "timestamp_ms", "labels"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.samples != 1:
            out["samples"] = self.samples
        return out


@dataclass
class AcceptedBatch:
    """A batch that passed: canonical labels, one entry per series, samples in time order."""

    series: list[SeriesSamples]
    samples: int
    duplicates_dropped: int = 0


@dataclass
class RejectedBatch:
    """A refused batch: nothing of it may be written.

    `rejections` holds at most `IngestLimits.max_rejections_listed` entries; `rejected_by_reason`
    counts every refused sample, so it can feed the rejected-samples metric exactly.
    """

    rejections: list[Rejection] = field(default_factory=list)
    rejected_by_reason: dict[RejectReason, int] = field(default_factory=dict)
    max_listed: int = 100

    @property
    def rejected_samples(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def truncated(self) -> bool:
        """Whether more rejections happened than are listed."""
        return sum(r.samples for r in self.rejections) < self.rejected_samples

    def add(self, rejection: Rejection) -> None:
        count = self.rejected_by_reason.get(rejection.reason, 0)
        self.rejected_by_reason[rejection.reason] = count + rejection.samples
        if len(self.rejections) < self.max_listed:
            self.rejections.append(rejection)

    def extend(self, other: RejectedBatch) -> None:
        for rejection in other.rejections:
            self.add(rejection)
        listed = {r: 0 for r in other.rejected_by_reason}
        for rejection in other.rejections:
            listed[rejection.reason] += rejection.samples
        for reason, total in other.rejected_by_reason.items():
            unlisted = total - listed[reason]
            if unlisted:
                self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + unlisted

    def to_dict(self) -> dict[str, Any]:
        """The body of the 4xx response: every listed rejection and the totals by reason."""
        return {
            "status": "error",
            "errorType": "bad_data",
            "error": f"{self.rejected_samples} sample(s) rejected; nothing was written",
            "rejected_samples": self.rejected_samples,
            "rejected_by_reason": {r.value: n for r, n in self.rejected_by_reason.items()},
            "rejections": [r.to_dict() for r in self.rejections],
            "truncated": self.truncated,
        }


ValidationOutcome = AcceptedBatch | RejectedBatch
