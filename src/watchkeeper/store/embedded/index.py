"""One tenant's series index: label set <-> series id, and postings for label matchers.

Series ids are dense (0, 1, 2, ...) so per-series state lives in numpy arrays indexed by id.
Matching follows Prometheus: a missing label has the empty value, so `job!="x"` also selects
series without `job`, and `job=~".*"` selects every series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.series import Labels, Matcher, MatchOp

SeriesIds = npt.NDArray[np.int64]


class SeriesIndex:
    """Not thread-safe by itself: the store guards it with its lock."""

    def __init__(self) -> None:
        self.ids: dict[Labels, int] = {}
        self.labels: list[Labels] = []
        self._postings: dict[str, dict[str, list[int]]] = {}

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, labels: Labels) -> int:
        """The id of a new series (the caller checked it is new)."""
        sid = len(self.labels)
        self.ids[labels] = sid
        self.labels.append(labels)
        for name, value in labels:
            self._postings.setdefault(name, {}).setdefault(value, []).append(sid)
        return sid

    def match(self, matchers: Sequence[Matcher]) -> SeriesIds:
        """Sorted ids of the series every matcher accepts."""
        selected = np.ones(len(self.labels), dtype=np.bool_)
        for matcher in matchers:
            selected &= self._mask(matcher)
        return np.flatnonzero(selected).astype(np.int64)

    def _mask(self, matcher: Matcher) -> npt.NDArray[np.bool_]:
        n = len(self.labels)
        values = self._postings.get(matcher.name, {})
        mask = np.zeros(n, dtype=np.bool_)
        if matcher.matches(""):
            # Series without the label carry "" and match too.
            mask[:] = True
            for sids in values.values():
                mask[sids] = False
        hits = (
            [values.get(matcher.value, [])]
            if matcher.op is MatchOp.EQUAL
            else [sids for value, sids in values.items() if matcher.matches(value)]
        )
        for sids in hits:
            mask[sids] = True
        return mask

    def label_names(self, sids: Iterable[int]) -> set[str]:
        return {name for sid in sids for name, _ in self.labels[sid]}

    def label_values(self, name: str, sids: SeriesIds) -> set[str]:
        wanted = np.zeros(len(self.labels), dtype=np.bool_)
        wanted[sids] = True
        return {
            value
            for value, holders in self._postings.get(name, {}).items()
            if wanted[holders].any()
        }
