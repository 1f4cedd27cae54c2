"""Where ingest workers hand their samples: a callback, so `ingest` needs no store implementation.

The composition root wires the sink to `MetricStore.append` (usually through the same
validation and accounting as the HTTP ingest paths). A sink may be a plain function or a
coroutine function; raising `watchkeeper.store.base.CardinalityLimitError` means "refused, nothing
written", any other exception is a failure of the worker.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from watchkeeper.domain.series import SeriesSamples

Sink = Callable[[str, list[SeriesSamples]], Awaitable[None] | None]
"""`sink(tenant_id, batch)`: write one batch for one tenant."""


async def deliver(sink: Sink, tenant_id: str, batch: list[SeriesSamples]) -> None:
    """Call a sink and await it if it is asynchronous."""
    result = sink(tenant_id, batch)
    if inspect.isawaitable(result):
        await result
