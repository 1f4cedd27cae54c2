"""Prometheus remote_write 1.0 codec: snappy-compressed `prometheus.WriteRequest` <-> series.

Spec: https://prometheus.io/docs/specs/remote_write_spec/ . Float samples only; exemplars and
metadata are ignored, native histograms are rejected (`RemoteWriteDecodeError`) because dropping
them silently would lose data. Decoding scans the protobuf once in compiled code
(`remote_write_scan`) and keeps a cache from a series' raw label bytes to its `Labels`, so a
series that comes back every scrape costs one dict lookup instead of a dozen string decodes.

Example:
    body = encode([SeriesSamples(labels, timestamps, values)])
    assert decode(body)[0].labels == labels
"""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Sequence

import cramjam
import numpy as np

from watchkeeper.domain.series import Labels, SeriesSamples
from watchkeeper.ingest.remote_write_scan import ScanError, ScannedWriteRequest, scan_write_request
from watchkeeper.store.embedded.columns import SampleColumns

DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024


class RemoteWriteDecodeError(ValueError):
    """The body is not a valid snappy-compressed WriteRequest (the API answers 400)."""


class LabelCache:
    """Raw protobuf label bytes -> canonical Labels, bounded by entry count and thread-safe."""

    def __init__(self, max_entries: int = 1_000_000) -> None:
        self._entries: dict[bytes, Labels] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def get(self, key: bytes) -> Labels | None:
        return self._entries.get(key)

    def put(self, key: bytes, labels: Labels) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # cheap and rare: a churn of a million series
            self._entries[key] = labels

    def __len__(self) -> int:
        return len(self._entries)


_shared_cache = LabelCache()


def _snappy_length(body: bytes) -> int:
    """The uncompressed length a snappy block announces in its varint header."""
    length, shift = 0, 0
    for position, byte in enumerate(body[:10]):
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            return length
        shift += 7
        if position == 9:
            break
    raise RemoteWriteDecodeError("bad snappy block: missing length header")


def decompress(body: bytes, max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> bytes:
    """Undo snappy block compression, refusing blocks that announce more than the limit."""
    announced = _snappy_length(body)
    if announced > max_decoded_bytes:
        raise RemoteWriteDecodeError(
            f"snappy block decodes to {announced} bytes, more than the {max_decoded_bytes} allowed"
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as error:
        raise RemoteWriteDecodeError(f"bad snappy block: {error}") from error


def decode(
    body: bytes,
    *,
    cache: LabelCache | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> list[SeriesSamples]:
    """Series and float samples of a remote_write body, in the order they were sent.

    A series sent twice in one request appears twice. Label sets are canonical (sorted, empty
    values dropped); names and values are not validated here beyond being UTF-8.
    """
    raw, scanned = _scan(body, max_decoded_bytes)
    return _series(raw, scanned, _shared_cache if cache is None else cache)


def decode_columns(
    body: bytes,
    *,
    cache: LabelCache | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> SampleColumns:
    """The same request as `decode`, as columns: no Python object per sample or per entry.

    This is the receiver's fast path (`EmbeddedStore.append_columns`); a series sent several
    times in one request becomes one series whose samples keep their order.
    """
    raw, scanned = _scan(body, max_decoded_bytes)
    cache = _shared_cache if cache is None else cache
    position: dict[bytes | Labels, int] = {}
    series_labels: list[Labels] = []
    entry_series: list[int] = []
    key_end = scanned.key_end.tolist()
    contiguous = scanned.key_contiguous.tolist()
    for index, start in enumerate(scanned.key_start.tolist()):
        key: bytes | Labels | None = None
        if contiguous[index] and start >= 0:
            key = raw[start : key_end[index]]
        local = position.get(key) if key is not None else None
        if local is None:
            labels = _cached_labels(raw, scanned, index, key, cache)
            local = position.setdefault(labels if key is None else key, len(series_labels))
            if local == len(series_labels):
                series_labels.append(labels)
        entry_series.append(local)
    counts = np.diff(scanned.sample_first)
    return SampleColumns(
        series_labels=series_labels,
        series_index=np.repeat(np.asarray(entry_series, np.int64), counts),
        timestamps=scanned.timestamps,
        values=scanned.value_bits.view(np.float64),
    )


def _scan(body: bytes, max_decoded_bytes: int) -> tuple[bytes, ScannedWriteRequest]:
    raw = decompress(body, max_decoded_bytes)
    try:
        return raw, scan_write_request(raw)
    except ScanError as error:
        raise RemoteWriteDecodeError(f"bad protobuf WriteRequest: {error}") from error


def _cached_labels(
    raw: bytes, scanned: ScannedWriteRequest, index: int, key: object, cache: LabelCache
) -> Labels:
    if not isinstance(key, bytes):
        return _labels(raw, scanned, index)
    labels = cache.get(key)
    if labels is None:
        labels = _labels(raw, scanned, index)
        cache.put(key, labels)
    return labels


def _series(raw: bytes, scanned: ScannedWriteRequest, cache: LabelCache) -> list[SeriesSamples]:
    timestamps = scanned.timestamps
    values = scanned.value_bits.view(np.float64)
    sample_first = scanned.sample_first.tolist()
    key_start = scanned.key_start.tolist()
    key_end = scanned.key_end.tolist()
    contiguous = scanned.key_contiguous.tolist()
    result: list[SeriesSamples] = []
    append = result.append
    for index, start in enumerate(key_start):
        key = raw[start : key_end[index]] if contiguous[index] and start >= 0 else None
        labels = _cached_labels(raw, scanned, index, key, cache)
        first, last = sample_first[index], sample_first[index + 1]
        append(SeriesSamples(labels, timestamps[first:last], values[first:last]))
    return result


def _labels(raw: bytes, scanned: ScannedWriteRequest, index: int) -> Labels:
    first, last = int(scanned.label_first[index]), int(scanned.label_first[index + 1])
    name_start = scanned.name_start[first:last].tolist()
    name_end = scanned.name_end[first:last].tolist()
    value_start = scanned.value_start[first:last].tolist()
    value_end = scanned.value_end[first:last].tolist()
    pairs: dict[str, str] = {}
    try:
        for label in range(last - first):
            name = raw[name_start[label] : name_end[label]].decode()
            value = raw[value_start[label] : value_end[label]].decode()
            if name in pairs:
                raise RemoteWriteDecodeError(f"duplicate label name {name!r} in one series")
            pairs[name] = value
    except UnicodeDecodeError as error:
        raise RemoteWriteDecodeError(f"label is not valid UTF-8: {error}") from error
    return tuple(sorted((name, value) for name, value in pairs.items() if value != ""))


def encode(series: Sequence[SeriesSamples]) -> bytes:
    """A snappy-compressed WriteRequest carrying the series (values kept bit for bit).

    Written directly in wire format: building protobuf message objects per sample runs at
    about 30,000 samples/s here, this at several hundred thousand.
    """
    parts: list[bytes] = []
    for one in series:
        body = _label_fields(one.labels) + b"".join(
            map(_sample_field, one.timestamps.tolist(), one.values.tolist())
        )
        parts.append(b"\x0a" + _varint(len(body)) + body)
    return bytes(cramjam.snappy.compress_raw(b"".join(parts)))


_DOUBLE = struct.Struct("<d")
_UINT64 = (1 << 64) - 1


def _sample_field(timestamp: int, value: float) -> bytes:
    # A Sample is at most 1 + 8 + 1 + 10 bytes, so its length is a one-byte varint.
    sample = b"\x09" + _DOUBLE.pack(value) + b"\x10" + _varint(timestamp & _UINT64)
    return b"\x12" + bytes((len(sample),)) + sample


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string_field(tag: bytes, text: str) -> bytes:
    data = text.encode()
    return tag + _varint(len(data)) + data


@functools.lru_cache(maxsize=200_000)  # a series is encoded again at every send
def _label_fields(labels: Labels) -> bytes:
    out = []
    for name, value in labels:
        label = _string_field(b"\x0a", name) + _string_field(b"\x12", value)
        out.append(b"\x0a" + _varint(len(label)) + label)
    return b"".join(out)
