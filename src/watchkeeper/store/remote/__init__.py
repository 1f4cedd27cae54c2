"""The MetricStore on a Prometheus-compatible TSDB: remote_write out, PromQL HTTP API in."""

from watchkeeper.store.remote.store import DEFAULT_TENANT_LABEL, RemoteStore, RemoteStoreError

__all__ = ["DEFAULT_TENANT_LABEL", "RemoteStore", "RemoteStoreError"]
