"""A configurable ensemble of calibrated detectors.

Members' scores already mean the same thing (each ends in a likelihood stage), so they can be
combined directly: `max` (any member is sure), `mean`, or `vote` (the k-th highest member
score, i.e. "at least k members agree"). The per-member scores of the last batch are kept so
explanations can say which detectors agreed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from watchkeeper.detect.base import Detector, FloatArray

Combine = Literal["max", "mean", "vote"]


class EnsembleDetector(Detector):
    """Runs every member on each batch and combines their scores."""

    name: ClassVar[str] = "ensemble"
    state_version: ClassVar[int] = 1

    def __init__(
        self,
        members: Sequence[Detector],
        combine: Combine = "vote",
        votes: int = 2,
        threshold: float = 0.5,
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        self.combine = combine
        self.votes = min(votes, len(self.members))
        self.threshold = threshold
        self.last_member_scores: FloatArray = np.zeros((0, len(self.members)))
        """Scores of each member (columns, in `members` order) for the last batch."""

    @property
    def member_names(self) -> list[str]:
        return [m.name for m in self.members]

    def update_many(self, t: FloatArray, x: FloatArray) -> FloatArray:
        scores = np.column_stack([m.update_many(t, x) for m in self.members])
        self.last_member_scores = scores
        if self.combine == "max":
            return np.asarray(scores.max(axis=1), dtype=np.float64)
        if self.combine == "mean":
            return np.asarray(scores.mean(axis=1), dtype=np.float64)
        ranked = -np.sort(-scores, axis=1)
        return np.asarray(ranked[:, self.votes - 1], dtype=np.float64)

    def agreeing(self, row: int = -1) -> list[str]:
        """Names of the members whose score crossed their own threshold at `row` of the last
        batch."""
        scores = self.last_member_scores[row]
        return [m.name for m, s in zip(self.members, scores, strict=True) if s >= m.threshold]

    def get_state(self) -> dict[str, Any]:
        return {
            "combine": self.combine,
            "votes": self.votes,
            "threshold": self.threshold,
            "members": [(type(m), m.get_state()) for m in self.members],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        members: list[Detector] = []
        for cls, member_state in state["members"]:
            member = cls.__new__(cls)
            member.set_state(member_state)
            members.append(member)
        self.__init__(members, state["combine"], state["votes"], state["threshold"])  # type: ignore[misc]
