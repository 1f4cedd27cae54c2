"""RemoteStore: the MetricStore on any Prometheus-compatible TSDB (VictoriaMetrics, Prometheus,
Mimir, Thanos receive, ...).

Writes go out as Prometheus remote_write (snappy + protobuf WriteRequest); reads use only the
standard PromQL HTTP API, so nothing here is specific to one TSDB:
- samples: an instant query of a range selector, `{matchers}[<end-start+1>ms]` at `time=end`,
  which every Prometheus-compatible API answers with the raw samples in the window;
- series, label names, label values: /api/v1/series, /api/v1/labels, /api/v1/label/<n>/values.

Tenants: by default each series carries the label `tenant_label` (`watchkeeper_tenant`) on the
way out, every read adds a matcher on it, and results come back without it; that works on any
single-tenant TSDB. With `tenant_header="X-Scope-OrgID"` the tenant goes in that header
instead (Mimir, Cortex, Thanos, VictoriaMetrics cluster via its proxy) and no label is added.

What the TSDB decides, not this class: duplicate and out-of-order handling (VictoriaMetrics
keeps both samples of a duplicate timestamp unless deduplication is on), retention
(`delete_before` is a no-op returning 0), the bit pattern of NaNs (the JSON API only says
"NaN"; Prometheus drops staleness markers from range selectors), and cardinality limits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from watchkeeper.clock import Clock, SystemClock
from watchkeeper.domain.series import Labels, Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.ingest.remote_write import encode
from watchkeeper.store.base import AppendResult

DEFAULT_TENANT_LABEL = "watchkeeper_tenant"
_LIVE_MS = 30 * 86_400_000
_RETRIES = 3


class RemoteStoreError(RuntimeError):
    """The remote TSDB refused a request or could not be reached."""


def selector(matchers: Sequence[Matcher]) -> str:
    """A PromQL series selector `{a="x", b=~"y"}` with values escaped as PromQL strings."""

    def quoted(value: str) -> str:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'

    return "{" + ", ".join(f"{m.name}{m.op.value}{quoted(m.value)}" for m in matchers) + "}"


class RemoteStore:
    """MetricStore over remote_write + the PromQL HTTP API. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        base_url: str,
        *,
        write_url: str | None = None,
        tenant_label: str = DEFAULT_TENANT_LABEL,
        tenant_header: str | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.write_url = write_url or f"{self.base_url}/api/v1/write"
        self._tenant_label = tenant_label
        self._tenant_header = tenant_header
        self._client = client or httpx.Client(timeout=timeout_s, headers=headers)
        self._clock = clock or SystemClock()

    # -- writes ------------------------------------------------------------------------------

    def append(self, tenant_id: str, batch: Sequence[SeriesSamples]) -> AppendResult:
        batch = [s for s in batch if len(s.timestamps)]
        if not batch:
            return AppendResult(appended=0)
        if self._tenant_header is None:
            batch = [
                SeriesSamples(self._with_tenant(s.labels, tenant_id), s.timestamps, s.values)
                for s in batch
            ]
        headers = {
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            **self._tenant_headers(tenant_id),
        }
        self._request("POST", self.write_url, content=encode(batch), headers=headers)
        return AppendResult(appended=sum(len(s.timestamps) for s in batch))

    def _with_tenant(self, labels: Labels, tenant_id: str) -> Labels:
        return labels_from_dict({**dict(labels), self._tenant_label: tenant_id})

    # -- reads -------------------------------------------------------------------------------

    def select(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[SeriesSamples]:
        if start_ms > end_ms:
            return []
        query = f"{selector(self._scoped(tenant_id, matchers))}[{end_ms - start_ms + 1}ms]"
        data = self._api(tenant_id, "/api/v1/query", {"query": query, "time": _seconds(end_ms)})
        out = []
        for result in data["result"]:
            pairs = result.get("values", [])
            timestamps = np.array([round(float(t) * 1000) for t, _ in pairs], dtype=np.int64)
            values = np.array([float(v) for _, v in pairs], dtype=np.float64)
            keep = timestamps >= start_ms
            out.append(
                SeriesSamples(self._unscoped(result["metric"]), timestamps[keep], values[keep])
            )
        return sorted(out, key=lambda s: s.labels)

    def series(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[Labels]:
        params = self._range_params(tenant_id, matchers, start_ms, end_ms)
        return sorted(self._unscoped(m) for m in self._api(tenant_id, "/api/v1/series", params))

    def label_names(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]:
        params = self._range_params(tenant_id, matchers, start_ms, end_ms)
        names = self._api(tenant_id, "/api/v1/labels", params)
        return sorted(n for n in names if self._tenant_header or n != self._tenant_label)

    def label_values(
        self, tenant_id: str, name: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]:
        params = self._range_params(tenant_id, matchers, start_ms, end_ms)
        return sorted(self._api(tenant_id, f"/api/v1/label/{name}/values", params))

    def series_count(self, tenant_id: str) -> int:
        """Live series of the tenant: with samples in the last 30 days up to now
        (VictoriaMetrics ignores later ones). Over a longer range VictoriaMetrics switches
        from its per-day index to the global one, which missed series written just before
        midnight UTC in the contract test."""
        now_ms = int(self._clock.time() * 1000)
        return len(self.series(tenant_id, [], now_ms - _LIVE_MS, now_ms))

    def delete_before(self, cutoff_ms: int) -> int:
        """Retention belongs to the remote TSDB (e.g. VictoriaMetrics' -retentionPeriod)."""
        return 0

    def close(self) -> None:
        self._client.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _scoped(self, tenant_id: str, matchers: Sequence[Matcher]) -> list[Matcher]:
        if self._tenant_header is not None:
            return list(matchers) or [Matcher("__name__", MatchOp.REGEX, ".+")]
        return [Matcher(self._tenant_label, MatchOp.EQUAL, tenant_id), *matchers]

    def _unscoped(self, metric: dict[str, str]) -> Labels:
        if self._tenant_header is None:
            metric = {k: v for k, v in metric.items() if k != self._tenant_label}
        return labels_from_dict(metric)

    def _tenant_headers(self, tenant_id: str) -> dict[str, str]:
        return {} if self._tenant_header is None else {self._tenant_header: tenant_id}

    def _range_params(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> dict[str, str]:
        return {
            "match[]": selector(self._scoped(tenant_id, matchers)),
            "start": _seconds(start_ms),
            "end": _seconds(end_ms),
        }

    def _api(self, tenant_id: str, path: str, params: dict[str, str]) -> Any:
        response = self._request(
            "GET", self.base_url + path, params=params, headers=self._tenant_headers(tenant_id)
        )
        body = response.json()
        if body.get("status") != "success":
            raise RemoteStoreError(f"{path}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, retried with backoff on connection errors and 5xx; 4xx is final."""
        for attempt in range(_RETRIES):
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TransportError as error:
                if attempt == _RETRIES - 1:
                    raise RemoteStoreError(f"{method} {url}: {error}") from error
            else:
                if response.status_code < 500 or attempt == _RETRIES - 1:
                    if response.is_error:
                        raise RemoteStoreError(
                            f"{method} {url}: HTTP {response.status_code}: {response.text[:500]}"
                        )
                    return response
            time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def _seconds(ms: int) -> str:
    """Milliseconds as the API's float seconds, exact to the millisecond."""
    sign = "-" if ms < 0 else ""
    whole, fraction = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{fraction:03d}"
