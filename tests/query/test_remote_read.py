"""remote_read (`POST /api/v1/read`): the XOR chunk codec read back by a decoder written from
Prometheus' `xorIterator`, sampled and streamed answers per tenant, bad requests, and a real
Prometheus reading Watchkeeper through `remote_read` with the same PromQL answers as ours."""

from __future__ import annotations

import math
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import cramjam
import httpx
import httpx2
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Env, TenantFixture
from tests.support import free_port, require_binary, wait_for_port
from tests.test_server_process import Server
from watchkeeper.query.remote_read import CHUNK_SAMPLES, crc32c, xor_chunk

# -- a reader written from Prometheus' chunkenc.xorIterator and prompb -------------------------


class BitReader:
    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def bits(self, n: int) -> int:
        assert n <= self.left, "read past the end of the chunk"
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def byte_varint(self, signed: bool) -> int:
        result = shift = 0
        while True:
            byte = self.bits(8)
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        return (result >> 1) ^ -(result & 1) if signed else result


def read_xor_chunk(chunk: bytes) -> list[tuple[int, float]]:
    total = int.from_bytes(chunk[:2], "big")
    reader = BitReader(chunk[2:])
    out: list[tuple[int, float]] = []
    t = delta = 0
    v_bits = leading = trailing = 0
    for index in range(total):
        if index == 0:
            t = reader.byte_varint(signed=True)
            v_bits = reader.bits(64)
        else:
            if index == 1:
                delta = reader.byte_varint(signed=False)
            else:
                prefix = 0
                for _ in range(4):
                    bit = reader.bits(1)
                    prefix = prefix << 1 | bit
                    if bit == 0:
                        break
                size = {0b0: 0, 0b10: 14, 0b110: 17, 0b1110: 20, 0b1111: 64}[prefix]
                dod = reader.bits(size) if size else 0
                if size == 64:
                    dod = dod - (1 << 64) if dod >= 1 << 63 else dod
                elif size and dod > 1 << (size - 1):
                    dod -= 1 << size
                delta += dod
            t += delta
            if reader.bits(1):
                if reader.bits(1):
                    leading = reader.bits(5)
                    significant = reader.bits(6) or 64
                    trailing = 64 - leading - significant
                significant = 64 - leading - trailing
                v_bits ^= reader.bits(significant) << trailing
        out.append((t, struct.unpack(">d", v_bits.to_bytes(8, "big"))[0]))
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        value: int | bytes
        if key & 7 == 0:
            value, pos = _varint(data, pos)
        elif key & 7 == 1:
            value, pos = data[pos : pos + 8], pos + 8
        else:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        out.append((key >> 3, value))
    return out


def _labels(fields: list[tuple[int, Any]]) -> dict[str, str]:
    return {
        dict(_fields(f))[1].decode(): dict(_fields(f)).get(2, b"").decode()
        for n, f in fields
        if n == 1
    }


def read_sampled(body: bytes) -> list[list[tuple[dict[str, str], list[tuple[int, float]]]]]:
    raw = bytes(cramjam.snappy.decompress_raw(body))
    results = []
    for _, result in _fields(raw):
        series = []
        for _, ts in _fields(result):
            fields = _fields(ts)
            samples = []
            for number, sample in fields:
                if number == 2:
                    parts = dict(_fields(sample))
                    samples.append((parts.get(2, 0), struct.unpack("<d", parts[1])[0]))
            series.append((_labels(fields), samples))
        results.append(series)
    return results


def read_streamed(body: bytes) -> list[tuple[int, dict[str, str], list[tuple[int, float]]]]:
    frames, pos = [], 0
    while pos < len(body):
        length, pos = _varint(body, pos)
        checksum = int.from_bytes(body[pos : pos + 4], "big")
        message = body[pos + 4 : pos + 4 + length]
        pos += 4 + length
        assert crc32c(message) == checksum
        fields = _fields(message)
        query_index = dict(fields).get(2, 0)
        for number, series in fields:
            if number != 1:
                continue
            parts = _fields(series)
            samples: list[tuple[int, float]] = []
            for n, chunk in parts:
                if n == 2:
                    chunk_fields = dict(_fields(chunk))
                    assert chunk_fields[3] == 1  # XOR
                    decoded = read_xor_chunk(chunk_fields[4])
                    assert (chunk_fields[1], chunk_fields[2]) == (decoded[0][0], decoded[-1][0])
                    assert len(decoded) <= CHUNK_SAMPLES
                    samples.extend(decoded)
            frames.append((query_index, _labels(parts), samples))
    return frames


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(2**40), max_value=2**40),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_xor_chunks_read_back_bit_for_bit(points: list[tuple[int, float]]) -> None:
    gaps = [abs(g) + 1 for g, _ in points]
    timestamps = list(np.cumsum(gaps).tolist())
    values = [v for _, v in points]
    for first in range(0, len(points), CHUNK_SAMPLES):
        chunk = xor_chunk(
            timestamps[first : first + CHUNK_SAMPLES], values[first : first + CHUNK_SAMPLES]
        )
        decoded = read_xor_chunk(chunk)
        assert [t for t, _ in decoded] == timestamps[first : first + CHUNK_SAMPLES]
        assert all(
            _same(a, b)
            for (_, a), b in zip(decoded, values[first : first + CHUNK_SAMPLES], strict=True)
        )


# -- the endpoint ------------------------------------------------------------------------------


def _request(queries: list[tuple[int, int, list[tuple[int, str, str]]]], types: list[int]) -> bytes:
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2]) + _uv(len(payload)) + payload

    body = b""
    for start, end, matchers in queries:
        query = b"\x08" + _uv(start) + b"\x10" + _uv(end)
        for kind, name, value in matchers:
            query += field(
                3, b"\x08" + _uv(kind) + field(2, name.encode()) + field(3, value.encode())
            )
        body += field(1, query)
    if types:
        body += field(2, b"".join(_uv(t) for t in types))
    return bytes(cramjam.snappy.compress_raw(body))


def _uv(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _seed(env: Env, tenant: TenantFixture, metric: str, now: float) -> None:
    body = [
        {
            "metric": metric,
            "labels": {"instance": instance},
            "samples": [[now - 600 + 15 * i, float(i * (1 + n))] for i in range(41)],
        }
        for n, instance in enumerate(["a", "b"])
    ]
    response = env.client.post("/api/v1/ingest", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text


def _post(env: Env, headers: dict[str, str], body: bytes) -> httpx2.Response:
    return env.client.post(
        "/api/v1/read",
        content=body,
        headers={**headers, "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
    )


def test_sampled_and_streamed_answers_for_the_callers_tenant(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    now = env.clock.time()
    _seed(env, acme, "rr_metric", now)
    _seed(env, globex, "rr_metric", now)
    window = (int((now - 3600) * 1000), int(now * 1000) + 1000)
    selector = [(0, "__name__", "rr_metric"), (2, "instance", "a|b")]

    sampled = _post(env, acme.viewer, _request([(*window, selector)], []))
    assert sampled.status_code == 200, sampled.text
    assert sampled.headers["content-encoding"] == "snappy"
    (result,) = read_sampled(sampled.content)
    assert sorted(labels["instance"] for labels, _ in result) == ["a", "b"]
    by_instance = {labels["instance"]: samples for labels, samples in result}
    assert len(by_instance["b"]) == 41 and by_instance["b"][3][1] == 6.0

    streamed = _post(
        env, acme.viewer, _request([(*window, selector), (*window, selector[:1])], [1, 0])
    )
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("application/x-streamed-protobuf")
    frames = read_streamed(streamed.content)
    assert sorted((q, labels["instance"]) for q, labels, _ in frames) == [
        (0, "a"),
        (0, "b"),
        (1, "a"),
        (1, "b"),
    ]
    for _, labels, samples in frames:
        assert samples == by_instance[labels["instance"]]

    # The tenant comes from the credential: a tenant label in the matchers changes nothing.
    sneaky = [(0, "__name__", "rr_metric"), (0, "tenant", "globex")]
    (nothing,) = read_sampled(_post(env, acme.viewer, _request([(*window, sneaky)], [])).content)
    assert nothing == []


def test_bad_requests_are_refused_with_a_reason(env: Env, acme: TenantFixture) -> None:
    assert _post(env, acme.viewer, b"not snappy").status_code == 400
    garbage = bytes(cramjam.snappy.compress_raw(b"\x0a\x05\x08"))
    assert _post(env, acme.viewer, garbage).status_code == 400
    empty_matchers = _request([(0, 1000, [(0, "job", "")])], [])
    refused = _post(env, acme.viewer, empty_matchers)
    assert refused.status_code == 400 and "matcher" in refused.json()["error"]["message"]
    bad_regex = _request([(0, 1000, [(2, "job", "(")])], [])
    assert _post(env, acme.viewer, bad_regex).status_code == 400
    assert env.client.post("/api/v1/read", content=empty_matchers).status_code == 401


# -- a real Prometheus reading from us ---------------------------------------------------------

QUERIES = [
    "rr_requests_total",
    'rr_requests_total{instance=~"a|c"}',
    "rate(rr_requests_total[5m])",
    "sum by (job) (rr_requests_total)",
    "max_over_time(rr_requests_total[10m])",
    "rr_requests_total offset 5m",
]


@pytest.mark.services
def test_real_prometheus_reads_us_through_remote_read(
    stack_server: Server, stack_key: str, tmp_path: Path
) -> None:
    binary = require_binary("prometheus")
    now = time.time()
    body = [
        {
            "metric": "rr_requests_total",
            "labels": {"instance": instance, "job": "shop"},
            "samples": [[now - 1800 + 15 * i, float(i * (n + 1) + (i % 7))] for i in range(120)],
        }
        for n, instance in enumerate(["a", "b", "c"])
    ]
    auth = {"Authorization": f"Bearer {stack_key}"}
    written = httpx.post(f"{stack_server.url}/api/v1/ingest", json=body, headers=auth, timeout=30)
    assert written.status_code == 200, written.text
    config = {
        "global": {"scrape_interval": "1h"},
        "remote_read": [
            {
                "url": f"{stack_server.url}/api/v1/read",
                "read_recent": True,
                "authorization": {"credentials": stack_key},
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        params = {"start": now - 1500, "end": now - 60, "step": 30}
        for query in QUERIES:
            theirs = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/query_range",
                params={**params, "query": query},
                timeout=30,
            ).json()
            ours = httpx.get(
                f"{stack_server.url}/api/v1/query_range",
                params={**params, "query": query},
                headers=auth,
                timeout=30,
            ).json()
            assert theirs["status"] == "success", (query, theirs)
            assert _matrix(theirs) == _matrix(ours), query
            assert _matrix(ours), query
    finally:
        process.terminate()
        process.wait(30)


def _matrix(answer: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    return {
        tuple(sorted(series["metric"].items())): [
            (float(t), round(float(v), 9)) for t, v in series["values"]
        ]
        for series in answer["data"]["result"]
    }
