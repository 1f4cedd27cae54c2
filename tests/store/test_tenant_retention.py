"""A tenant's own metrics retention (shorter than the store's) drops only that tenant's old
samples, frees their disk, and holds across a restart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.store.embedded import EmbeddedStore
from watchkeeper.store.memory import MemoryStore

UP = [Matcher("__name__", MatchOp.EQUAL, "up")]


def _up(t_ms: int, job: str) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict({"__name__": "up", "job": job}),
        np.array([t_ms], dtype=np.int64),
        np.array([float(t_ms)]),
    )


def _times(store: EmbeddedStore | MemoryStore, tenant: str) -> list[int]:
    return sorted(int(t) for s in store.select(tenant, UP, 0, 10**9) for t in s.timestamps)


def _tenant_folders(path: Path) -> int:
    return sum(1 for block in (path / "blocks").iterdir() for f in block.iterdir() if f.is_dir())


def test_embedded_store_drops_one_tenants_old_samples_only(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, head_max_samples=2, background_compaction=False)
    for t in range(0, 6000, 1000):
        store.append("short", [_up(t, "a")])
        store.append("long", [_up(t, "a")])
    store.flush()
    folders = _tenant_folders(tmp_path)

    assert store.delete_tenant_before("short", 3000) == 3

    assert _times(store, "short") == [3000, 4000, 5000]
    assert _times(store, "long") == [0, 1000, 2000, 3000, 4000, 5000]
    assert _tenant_folders(tmp_path) < folders  # the short tenant's expired parts are gone
    assert store.append("short", [_up(2500, "b")]).out_of_order == 1  # older than its cutoff
    assert store.append("long", [_up(2500, "b")]).appended == 1
    store.close()

    reopened = EmbeddedStore(tmp_path)
    assert _times(reopened, "short") == [3000, 4000, 5000]
    assert _times(reopened, "long") == [0, 1000, 2000, 2500, 3000, 4000, 5000]
    reopened.close()


def test_memory_store_drops_one_tenants_old_samples_only() -> None:
    store = MemoryStore()
    for t in range(0, 6000, 1000):
        store.append("short", [_up(t, "a")])
        store.append("long", [_up(t, "a")])
    assert store.delete_tenant_before("short", 3000) == 3
    assert _times(store, "short") == [3000, 4000, 5000]
    assert len(_times(store, "long")) == 6
