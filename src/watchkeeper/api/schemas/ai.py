"""Anomalies, training jobs and models (`/ai/...`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from watchkeeper.config import DetectorName
from watchkeeper.extras import deep_detector_problem

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Literal["true_positive", "false_positive"]


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    label: Literal["true_positive", "false_positive"]
    by: str = Field(description="who gave the verdict")
    at: datetime


class AnomalyPublic(BaseModel):
    id: str
    series: str = Field(description='the series as `name{label="value",...}`')
    labels: dict[str, str]
    at: datetime
    detector: str
    score: float = Field(description="anomaly score in [0, 1]; the detector's threshold is 0.5")
    pattern: str
    explanation: dict[str, Any] = Field(
        description="observed, expected, band, deviation_sigma, pattern, started_at, context, "
        "detectors_agreeing, detectors_total, score, attributions"
    )
    sentence: str = Field(description="the explanation in operator words")
    feedback: FeedbackPublic | None = Field(
        None, description="an operator's verdict (POST /ai/anomalies/{id}/feedback)"
    )


class AnomalyPage(BaseModel):
    items: list[AnomalyPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selector: str = Field(min_length=1, max_length=4096, description='e.g. `{job="api"}`')
    detector: DetectorName | None = Field(None, description="default: the configured detector")

    @field_validator("detector")
    @classmethod
    def _deep_needs_torch(cls, value: str | None) -> str | None:
        # Refused here, not in the training job: without torch the job would fail later.
        problem = deep_detector_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class TrainingJobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    selector: str
    detector: str
    status: JobStatus
    series_total: int
    series_trained: int
    points: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ModelQuality(BaseModel):
    alerts_per_1000_points: float | None = Field(
        description="events the model raised per 1,000 points of its own history it scored "
        "(training replay and live); a calibrated model on a healthy series stays near 1"
    )


class ModelPublic(BaseModel):
    series: str
    labels: dict[str, str]
    detector: str
    revision: int
    trained_at: datetime
    data_start: datetime
    data_end: datetime
    points: int
    events: int
    quality: ModelQuality
