"""Every MetricStore implementation by name: how to build it and which behaviour it owns.

The contract suite (tests/contract/test_metric_store.py) runs against every entry, so a new
backend is tested the moment it is registered here. Behaviour a remote TSDB decides for
itself (NaN bit patterns, duplicate and out-of-order policy, cardinality limits, retention)
is declared in `StoreCapabilities` and tested only where the backend promises it.

Implementations are imported when built: the remote store's HTTP client and the embedded
store's memory maps are loaded only by the process that uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchkeeper.clock import Clock
from watchkeeper.store.base import MetricStore


@dataclass(frozen=True)
class StoreOptions:
    """What any backend may need to be built; each one reads only its own fields."""

    path: Path | None = None
    """The embedded store's folder."""
    max_series_per_tenant: int | None = None
    fsync: Literal["always", "never"] = "always"
    head_max_samples: int | None = None
    """Embedded: samples held in memory before a block is cut (None: the store's default)."""
    remote_url: str | None = None
    remote_write_url: str | None = None
    remote_tenant_label: str = "watchkeeper_tenant"
    remote_tenant_header: str | None = None
    remote_timeout_s: float = 30.0
    clock: Clock | None = None


@dataclass(frozen=True)
class StoreCapabilities:
    """Behaviour a backend owns (True) or leaves to the system behind it (False)."""

    exact_nan_bits: bool = True
    """NaN payloads come back bit for bit (a remote TSDB may canonicalise them)."""
    sample_policy: bool = True
    """Duplicates and out-of-order samples are refused as Prometheus' TSDB refuses them."""
    cardinality_limit: bool = True
    """`max_series_per_tenant` is enforced: an append that would pass it writes nothing."""
    retention: bool = True
    """`delete_before` drops samples (a remote TSDB applies its own retention)."""
    columnar: bool = True
    """`select_columns` answers in one gather (watchkeeper.query.source)."""


@dataclass(frozen=True)
class StoreBackend:
    build: Callable[[StoreOptions], MetricStore]
    can: StoreCapabilities
    remote: bool = False
    """Needs a running Prometheus-compatible TSDB at `remote_url`."""


def _embedded(options: StoreOptions) -> MetricStore:
    from watchkeeper.store.embedded.store import EmbeddedStore

    if options.path is None:
        raise ValueError("the embedded store needs a path")
    if options.head_max_samples is None:
        return EmbeddedStore(
            options.path, max_series_per_tenant=options.max_series_per_tenant, fsync=options.fsync
        )
    return EmbeddedStore(
        options.path,
        max_series_per_tenant=options.max_series_per_tenant,
        fsync=options.fsync,
        head_max_samples=options.head_max_samples,
    )


def _memory(options: StoreOptions) -> MetricStore:
    from watchkeeper.store.memory import MemoryStore

    return MemoryStore(max_series_per_tenant=options.max_series_per_tenant)


def _remote(options: StoreOptions) -> MetricStore:
    from watchkeeper.store.remote.store import RemoteStore

    if options.remote_url is None:
        raise ValueError("the remote store needs remote_url")
    return RemoteStore(
        options.remote_url,
        write_url=options.remote_write_url,
        tenant_label=options.remote_tenant_label,
        tenant_header=options.remote_tenant_header,
        timeout_s=options.remote_timeout_s,
        clock=options.clock,
    )


STORE_BACKENDS: dict[str, StoreBackend] = {
    "embedded": StoreBackend(_embedded, StoreCapabilities()),
    "memory": StoreBackend(_memory, StoreCapabilities()),
    "remote": StoreBackend(
        _remote,
        StoreCapabilities(
            exact_nan_bits=False,
            sample_policy=False,
            cardinality_limit=False,
            retention=False,
            columnar=False,
        ),
        remote=True,
    ),
}
"""`memory` keeps nothing across restarts: it serves the query warm-up, the library and tests."""


def build_metric_store(backend: str, options: StoreOptions) -> MetricStore:
    """The named backend built from `options`; ValueError for a name not registered."""
    if backend not in STORE_BACKENDS:
        raise ValueError(f"unknown storage backend {backend!r} (one of {sorted(STORE_BACKENDS)})")
    return STORE_BACKENDS[backend].build(options)
