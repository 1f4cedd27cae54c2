"""One query's budget: samples in memory (`query.max_samples`) and time (`query.timeout_seconds`).

The evaluator keeps the count of samples its live values hold; anything about to allocate
a number of samples it can compute beforehand (a subquery's steps, a range function's
windows, count_values' groups, histogram buckets) asks `reserve` first, so an oversized
query is refused before it allocates, not after. Loops whose length grows with the data
(per window sample, per group member, per batch of series) call `check_time`, so a query
past its deadline stops inside the loop rather than at the next node.

Functions deep in the engine reach the budget of the query they serve through a context
variable set by the engine (`applying`); code run outside a query (unit tests of one
function) has no budget and no limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from watchkeeper.clock import Clock
from watchkeeper.query.errors import QueryTimeoutError, TooManySamplesError


@dataclass
class QueryBudget:
    """The limits of one evaluation and the samples its live values hold now."""

    max_samples: int
    deadline: float
    clock: Clock
    in_flight: int = 0

    def check_time(self, where: str) -> None:
        if self.clock.time() > self.deadline:
            raise QueryTimeoutError(where)

    def reserve(self, samples: int, what: str) -> None:
        """Refuse (before allocating) `samples` more than the live values leave room for."""
        if self.in_flight + samples > self.max_samples:
            raise TooManySamplesError(self.max_samples, f"{what} needs {samples:,} samples")


_current: ContextVar[QueryBudget | None] = ContextVar("watchkeeper_query_budget", default=None)


@contextmanager
def applying(budget: QueryBudget) -> Iterator[QueryBudget]:
    """Make `budget` the one `check_time` and `reserve` answer to, for this evaluation."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def check_time(where: str) -> None:
    """Raise QueryTimeoutError if the current query is past its deadline."""
    budget = _current.get()
    if budget is not None:
        budget.check_time(where)


def reserve(samples: int, what: str) -> None:
    """Raise TooManySamplesError if allocating `samples` would exceed the current budget."""
    budget = _current.get()
    if budget is not None:
        budget.reserve(samples, what)
