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

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cramjam
import numpy as np

from watchkeeper.domain.columns import SampleColumns
from watchkeeper.domain.protowire import varint
from watchkeeper.domain.series import Labels, SeriesSamples
from watchkeeper.ingest.memo import BoundedMemo, labels_bytes
from watchkeeper.ingest.outcome import RejectedBatch, Rejection, RejectReason
from watchkeeper.ingest.remote_write_scan import ScanError, ScannedWriteRequest, scan_write_request

DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024


class RemoteWriteDecodeError(ValueError):
    """The body is not a valid snappy-compressed WriteRequest (the API answers 400)."""


class DecodedTooLarge(RemoteWriteDecodeError):
    """The body would decompress to more than allowed (the API answers 413)."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


LABEL_CACHE_BYTES = 64 * 1024 * 1024
"""Memory for the raw-label-bytes -> Labels cache (about 200,000 ordinary series)."""
LABEL_CACHE_ENTRY_BYTES = 16 * 1024
"""A series whose labels take more than this is decoded every time, never kept."""


class LabelCache:
    """Raw protobuf label bytes -> canonical Labels, bounded in bytes and thread-safe.

    Only series the receiver accepted are put here (`remember`): a refused series, whatever
    its size, leaves nothing behind.
    """

    def __init__(
        self, max_bytes: int = LABEL_CACHE_BYTES, max_entry_bytes: int = LABEL_CACHE_ENTRY_BYTES
    ) -> None:
        self._memo = BoundedMemo[bytes, Labels](
            max_bytes=max_bytes, max_entry_bytes=max_entry_bytes
        )

    def get(self, key: bytes) -> Labels | None:
        return self._memo.get(key)

    def put(self, key: bytes, labels: Labels) -> None:
        self._memo.put(key, labels, size=len(key) + 33 + labels_bytes(labels))

    @property
    def bytes(self) -> int:
        return self._memo.bytes

    def __len__(self) -> int:
        return len(self._memo)


@dataclass(frozen=True)
class LabelBounds:
    """Sizes checked on the raw bytes, before a label becomes a string or a cache entry
    (the same limits the validator applies: `IngestLimits`)."""

    max_name_bytes: int = 1024
    max_value_bytes: int = 2048
    max_labels: int = 30
    max_listed: int = 100


class LabelsRefused(RemoteWriteDecodeError):
    """Series whose labels pass the bounds: the whole request is refused, nothing decoded."""

    def __init__(self, rejected: RejectedBatch) -> None:
        super().__init__(rejected.rejections[0].message)
        self.rejected = rejected


_shared_cache = LabelCache()


def shared_cache() -> LabelCache:
    """The process-wide cache `decode` and `decode_columns` use by default."""
    return _shared_cache


def remember(entries: Sequence[tuple[bytes, Labels]], cache: LabelCache | None = None) -> None:
    """Keep the label sets of an accepted request (`decode_columns(..., pending=...)`)."""
    target = _shared_cache if cache is None else cache
    for key, labels in entries:
        target.put(key, labels)


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


# Snappy's densest element is a 3-byte copy of 64 bytes: no valid block expands more than
# 64/3 times (plus its header). A header announcing more is a lie told to make us allocate.
_MAX_SNAPPY_RATIO = 64 / 3


def decompress(body: bytes, max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> bytes:
    """Undo snappy block compression, refusing (before allocating anything) blocks that
    announce more than the limit, or more than a block of this size can hold."""
    announced = _snappy_length(body)
    if announced > max_decoded_bytes:
        raise DecodedTooLarge(
            f"snappy block decodes to {announced} bytes, more than the limit of "
            f"{max_decoded_bytes} bytes (security.max_decoded_body_bytes)",
            max_decoded_bytes,
        )
    if announced > len(body) * _MAX_SNAPPY_RATIO + 16:
        raise RemoteWriteDecodeError(
            f"bad snappy block: {len(body)} bytes cannot decode to the {announced} announced"
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
    bounds: LabelBounds | None = None,
    pending: list[tuple[bytes, Labels]] | None = None,
) -> list[SeriesSamples]:
    """Series and float samples of a remote_write body, in the order they were sent.

    A series sent twice in one request appears twice. Label sets are canonical (sorted, empty
    values dropped); names and values are not validated here beyond being UTF-8 and within
    `bounds` (checked on the raw bytes: `LabelsRefused`). New label sets go to the cache, or
    to `pending` when given, for `remember` once the request is accepted.
    """
    raw, scanned = _scan(body, max_decoded_bytes, bounds)
    return _series(raw, scanned, _shared_cache if cache is None else cache, pending)


def decode_columns(
    body: bytes,
    *,
    cache: LabelCache | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
    bounds: LabelBounds | None = None,
    pending: list[tuple[bytes, Labels]] | None = None,
) -> SampleColumns:
    """The same request as `decode`, as columns: no Python object per sample or per entry.

    This is the receiver's fast path (`EmbeddedStore.append_columns`); a series sent several
    times in one request becomes one series whose samples keep their order.
    """
    raw, scanned = _scan(body, max_decoded_bytes, bounds)
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
            labels = _cached_labels(raw, scanned, index, key, cache, pending)
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


def _scan(
    body: bytes, max_decoded_bytes: int, bounds: LabelBounds | None
) -> tuple[bytes, ScannedWriteRequest]:
    raw = decompress(body, max_decoded_bytes)
    try:
        scanned = scan_write_request(raw)
    except ScanError as error:
        raise RemoteWriteDecodeError(f"bad protobuf WriteRequest: {error}") from error
    if bounds is not None:
        _check_bounds(raw, scanned, bounds)
    return raw, scanned


def _check_bounds(raw: bytes, scanned: ScannedWriteRequest, bounds: LabelBounds) -> None:
    """Refuse series with over-long names or values, or too many labels, from the offsets
    alone: no string is made of an oversized label, only a short preview for the answer."""
    name_len = scanned.name_end - scanned.name_start
    value_len = scanned.value_end - scanned.value_start
    per_series = np.diff(scanned.label_first)
    owner = np.repeat(np.arange(len(per_series)), per_series)
    long_name = name_len > bounds.max_name_bytes
    long_value = value_len > bounds.max_value_bytes
    label_counts = np.bincount(owner[value_len > 0], minlength=len(per_series))
    too_many = label_counts > bounds.max_labels
    if not (long_name.any() or long_value.any() or too_many.any()):
        return
    samples = np.diff(scanned.sample_first)
    rejected = RejectedBatch(max_listed=bounds.max_listed)
    bad_labels = np.flatnonzero(long_name | long_value)
    for label in bad_labels[: bounds.max_listed].tolist():
        series = int(owner[label])
        name = _preview(raw, int(scanned.name_start[label]), int(name_len[label]))
        if long_name[label]:
            reason, what = RejectReason.LABEL_NAME_TOO_LONG, f"label name {name!r}"
            size, limit = int(name_len[label]), bounds.max_name_bytes
        else:
            reason, what = RejectReason.LABEL_VALUE_TOO_LONG, f"label {name!r} value"
            size, limit = int(value_len[label]), bounds.max_value_bytes
        rejected.add(
            Rejection(
                reason,
                f"{what} is {size} bytes, longer than the limit of {limit}",
                series_index=series,
                labels=_preview_labels(raw, scanned, series),
                samples=int(samples[series]),
            )
        )
    for series in np.flatnonzero(too_many)[: bounds.max_listed].tolist():
        rejected.add(
            Rejection(
                RejectReason.TOO_MANY_LABELS,
                f"series has {int(label_counts[series])} labels, more than the limit of "
                f"{bounds.max_labels}",
                series_index=series,
                labels=_preview_labels(raw, scanned, series),
                samples=int(samples[series]),
            )
        )
    # Series beyond those listed still count, by reason, in the totals.
    unlisted = {
        RejectReason.LABEL_NAME_TOO_LONG: samples[owner[long_name]],
        RejectReason.LABEL_VALUE_TOO_LONG: samples[owner[long_value & ~long_name]],
        RejectReason.TOO_MANY_LABELS: samples[too_many],
    }
    for reason, counts in unlisted.items():
        listed = sum(r.samples for r in rejected.rejections if r.reason == reason)
        extra = int(counts.sum()) - listed
        if extra > 0:
            rejected.rejected_by_reason[reason] = rejected.rejected_by_reason.get(reason, 0) + extra
    raise LabelsRefused(rejected)


_PREVIEW_BYTES = 64
_PREVIEW_LABELS = 10


def _preview(raw: bytes, start: int, length: int) -> str:
    """At most 64 bytes of a label string, with an ellipsis when it is longer."""
    text = raw[start : start + min(length, _PREVIEW_BYTES)].decode(errors="replace")
    return text + "…" if length > _PREVIEW_BYTES else text


def _preview_labels(raw: bytes, scanned: ScannedWriteRequest, series: int) -> dict[str, str]:
    first, last = int(scanned.label_first[series]), int(scanned.label_first[series + 1])
    out: dict[str, str] = {}
    for label in range(first, min(last, first + _PREVIEW_LABELS)):
        name_start, value_start = int(scanned.name_start[label]), int(scanned.value_start[label])
        name = _preview(raw, name_start, int(scanned.name_end[label]) - name_start)
        out[name] = _preview(raw, value_start, int(scanned.value_end[label]) - value_start)
    if last - first > _PREVIEW_LABELS:
        out["…"] = f"{last - first - _PREVIEW_LABELS} more labels"
    return out


def _cached_labels(
    raw: bytes,
    scanned: ScannedWriteRequest,
    index: int,
    key: object,
    cache: LabelCache,
    pending: list[tuple[bytes, Labels]] | None,
) -> Labels:
    if not isinstance(key, bytes):
        return _labels(raw, scanned, index)
    labels = cache.get(key)
    if labels is None:
        labels = _labels(raw, scanned, index)
        if pending is None:
            cache.put(key, labels)
        else:
            pending.append((key, labels))
    return labels


def _series(
    raw: bytes,
    scanned: ScannedWriteRequest,
    cache: LabelCache,
    pending: list[tuple[bytes, Labels]] | None,
) -> list[SeriesSamples]:
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
        labels = _cached_labels(raw, scanned, index, key, cache, pending)
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
        parts.append(b"\x0a" + varint(len(body)) + body)
    return bytes(cramjam.snappy.compress_raw(b"".join(parts)))


_DOUBLE = struct.Struct("<d")


def _sample_field(timestamp: int, value: float) -> bytes:
    # A Sample is at most 1 + 8 + 1 + 10 bytes, so its length is a one-byte varint.
    sample = b"\x09" + _DOUBLE.pack(value) + b"\x10" + varint(timestamp)
    return b"\x12" + bytes((len(sample),)) + sample


def _string_field(tag: bytes, text: str) -> bytes:
    data = text.encode()
    return tag + varint(len(data)) + data


# A series is encoded again at every send (the remote store's writes): its fields are kept,
# bounded in bytes like every other memo on the ingest path.
_encoded_labels = BoundedMemo[Labels, bytes](
    max_bytes=LABEL_CACHE_BYTES, max_entry_bytes=LABEL_CACHE_ENTRY_BYTES
)


def _label_fields(labels: Labels) -> bytes:
    cached = _encoded_labels.get(labels)
    if cached is not None:
        return cached
    out = []
    for name, value in labels:
        label = _string_field(b"\x0a", name) + _string_field(b"\x12", value)
        out.append(b"\x0a" + varint(len(label)) + label)
    fields = b"".join(out)
    _encoded_labels.put(labels, fields, size=len(fields) + 33 + labels_bytes(labels))
    return fields
