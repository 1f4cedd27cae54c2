"""The embedded MetricStore: WAL + memory-mapped column blocks in one local directory."""

from watchkeeper.store.embedded.store import EmbeddedStore
from watchkeeper.store.embedded.wal import FsyncPolicy

__all__ = ["EmbeddedStore", "FsyncPolicy"]
