"""The ingest path keeps nothing a refused request sent, answers it briefly, and refuses
bodies that would decompress beyond the limit before decoding them.

Regression for the remote_write leak: every 50 MB-label request refused with 400 left its
label bytes (and their decoded string) in the label cache for good, and a 938 KB request was
answered with a 20 MB body that echoed the label back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cramjam
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from tests.support import ADMIN_PASSWORD
from watchkeeper.clock import ManualClock
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.ingest import remote_write
from watchkeeper.ingest.remote_write import LabelCache, decode, encode

MAX_ERROR_BODY = 64 * 1024


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=time.time())


@pytest.fixture
def client(tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import load_settings

    result = initialise(tmp_path / "data", clock=clock, admin_password=ADMIN_PASSWORD)
    config = yaml.safe_load(result.config_file.read_text())
    config["observability"] = {"access_log": False}
    config["metrics"] = {"host_collector_enabled": False}
    result.config_file.write_text(yaml.safe_dump(config))
    settings = load_settings(result.config_file)
    with TestClient(create_app(settings, clock=clock, config_file=result.config_file)) as client:
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


def _body(labels: dict[str, str], ts_ms: int, samples: int = 1) -> bytes:
    timestamps = np.arange(ts_ms, ts_ms + samples, dtype=np.int64)
    return encode([SeriesSamples(labels_from_dict(labels), timestamps, np.ones(samples))])


def _now_ms(clock: ManualClock) -> int:
    return int(clock.time() * 1000)


def test_an_oversized_label_is_refused_briefly_and_leaves_nothing_cached(
    client: TestClient, clock: ManualClock
) -> None:
    cached = len(remote_write._shared_cache)  # the receiver's process-wide cache
    body = _body({"__name__": "up", "job": "x" * 4_000_000}, _now_ms(clock))
    assert len(body) < 300_000  # snappy: a small request for a huge label

    response = client.post("/api/v1/write", content=body)

    assert response.status_code == 400
    assert len(response.content) <= MAX_ERROR_BODY
    error = response.json()["error"]
    assert "4000000 bytes" in error["message"] and "2048" in error["message"]
    echoed = error["details"]["rejections"][0]["labels"]["job"]
    assert echoed.endswith("…") and len(echoed) < 100
    assert len(remote_write._shared_cache) == cached


def test_a_series_refused_for_another_reason_is_not_cached_either(
    client: TestClient, clock: ManualClock
) -> None:
    labels = {"__name__": "requests_total", "instance": "refused-then-accepted"}
    cached = len(remote_write._shared_cache)
    in_a_day = _now_ms(clock) + 86_400_000

    refused = client.post("/api/v1/write", content=_body(labels, in_a_day))
    assert refused.status_code == 400
    assert len(remote_write._shared_cache) == cached

    accepted = client.post("/api/v1/write", content=_body(labels, _now_ms(clock)))
    assert accepted.status_code == 204
    assert len(remote_write._shared_cache) == cached + 1  # accepted series are still cached


def test_too_many_labels_are_counted_from_offsets_and_refused(
    client: TestClient, clock: ManualClock
) -> None:
    labels = {"__name__": "wide", **{f"l{i}": "v" for i in range(5000)}}
    response = client.post("/api/v1/write", content=_body(labels, _now_ms(clock)))
    assert response.status_code == 400
    assert "5001 labels" in response.json()["error"]["message"]
    assert len(response.content) <= MAX_ERROR_BODY


def test_the_label_cache_is_bounded_in_bytes_and_per_entry() -> None:
    cache = LabelCache(max_bytes=256 * 1024, max_entry_bytes=4096)
    series = [
        SeriesSamples(
            labels_from_dict({"__name__": "m", "instance": f"host-{i:05d}", "pad": "p" * 200}),
            np.array([1], np.int64),
            np.array([1.0]),
        )
        for i in range(5000)
    ]
    decode(encode(series), cache=cache)
    assert 0 < cache.bytes <= 256 * 1024
    assert len(cache) < 5000  # the oldest went first

    big = LabelCache(max_bytes=256 * 1024, max_entry_bytes=4096)
    decode(_body({"__name__": "m", "v": "x" * 5000}, 1), cache=big)
    assert len(big) == 0  # one entry larger than the per-entry bound is never kept


def test_a_snappy_bomb_is_refused_before_it_is_decoded(client: TestClient) -> None:
    # 32 MiB + 1 of zeros compresses to about 1.5 MB: under the body limit (32 MB), over the
    # decompressed limit (security.max_decoded_body_bytes, 32 MiB).
    bomb = bytes(cramjam.snappy.compress_raw(bytes(32 * 1024 * 1024 + 1)))
    assert len(bomb) < 2_000_000

    response = client.post("/api/v1/write", content=bomb)

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "decoded_body_too_large"
    assert "33554432" in error["message"] and "max_decoded_body_bytes" in error["message"]


def test_a_snappy_header_announcing_more_than_the_block_can_hold_is_refused() -> None:
    announced = 20 * 1024 * 1024
    header = bytearray()
    value = announced
    while value >= 0x80:
        header.append((value & 0x7F) | 0x80)
        value >>= 7
    header.append(value)
    with pytest.raises(remote_write.RemoteWriteDecodeError, match="cannot decode to"):
        remote_write.decompress(bytes(header) + bytes(100), max_decoded_bytes=64 * 1024 * 1024)


def test_json_ingest_errors_are_capped_and_truncate_what_they_echo(client: TestClient) -> None:
    items = [
        {"metric": "m", "labels": {f"k{i}" + "x" * 20_000: 1}, "samples": [[1, 1]]}
        for i in range(60)
    ]
    response = client.post("/api/v1/ingest", json=items)
    assert response.status_code == 400
    assert len(response.content) <= MAX_ERROR_BODY
    assert "…" in response.text


def test_the_validator_remembers_only_accepted_sets_within_its_byte_bound(
    client: TestClient, clock: ManualClock
) -> None:
    validator = client.app.state.context.ingest.validator  # type: ignore[attr-defined]
    labels = labels_from_dict({"__name__": "a", "job": "j"})
    future = _now_ms(clock) + 86_400_000
    refused = client.post("/api/v1/write", content=_body(dict(labels), future))
    assert refused.status_code == 400
    assert not validator.remembered(labels)

    accepted = client.post("/api/v1/write", content=_body(dict(labels), _now_ms(clock)))
    assert accepted.status_code == 204
    assert validator.remembered(labels)
    assert validator.cached_bytes <= (64 + 2 * 4) * 1024 * 1024
