"""One compiled pass over a remote_write WriteRequest that yields flat offset and sample arrays.

Decoding is the bottleneck of the receiver (pure-Python protobuf reaches about 60,000
samples/s): this scanner walks the protobuf wire format once, in machine code (numba), and
returns column arrays. Python then touches each series once, never each sample.
Measured against alternatives in bench/ingest.py and docs/design/storage.md.

Wire format: https://protobuf.dev/programming-guides/encoding/ ; messages: prometheus/prompb.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba
import numpy as np
import numpy.typing as npt

OK = 0
TRUNCATED = 1
BAD_WIRE_TYPE = 2
BAD_LENGTH = 3
HISTOGRAMS = 4
VARINT_TOO_LONG = 5

ERROR_TEXT = {
    TRUNCATED: "truncated message",
    BAD_WIRE_TYPE: "unsupported or invalid protobuf wire type",
    BAD_LENGTH: "length-delimited field runs past its message",
    HISTOGRAMS: "native histograms are not supported (send float samples only)",
    VARINT_TOO_LONG: "varint longer than 10 bytes",
}

Int64s = npt.NDArray[np.int64]


class ScannedWriteRequest(NamedTuple):
    """Offsets into the body (label strings, per-series label bytes) and the samples, flat.

    Series i owns labels [label_first[i], label_first[i+1]) and samples
    [sample_first[i], sample_first[i+1]); its label fields occupy body[key_start[i]:key_end[i]]
    when key_contiguous[i] (the usual encoding), which serves as a cache key.
    """

    label_first: Int64s
    sample_first: Int64s
    key_start: Int64s
    key_end: Int64s
    key_contiguous: npt.NDArray[np.bool_]
    name_start: Int64s
    name_end: Int64s
    value_start: Int64s
    value_end: Int64s
    timestamps: Int64s
    value_bits: npt.NDArray[np.uint64]


@numba.njit(cache=True, nogil=True, inline="always")
def _varint(buf: npt.NDArray[np.uint8], pos: int, end: int) -> tuple[Any, int]:
    """(value as a two's-complement int64, next position); next position -1 if malformed."""
    result = np.uint64(0)
    shift = np.uint64(0)
    for _ in range(10):
        if pos >= end:
            return 0, -TRUNCATED
        byte = buf[pos]
        pos += 1
        result |= np.uint64(byte & 0x7F) << shift
        if byte < 0x80:
            return np.int64(result), pos
        shift += np.uint64(7)
    return 0, -VARINT_TOO_LONG


@numba.njit(cache=True, nogil=True, inline="always")
def _skip(buf: npt.NDArray[np.uint8], pos: int, end: int, wire_type: int) -> int:
    """Position after a field's payload, or a negated error code."""
    if wire_type == 0:
        _, pos = _varint(buf, pos, end)
        return pos
    if wire_type == 1:
        return pos + 8 if pos + 8 <= end else -TRUNCATED
    if wire_type == 5:
        return pos + 4 if pos + 4 <= end else -TRUNCATED
    if wire_type == 2:
        length, pos = _varint(buf, pos, end)
        if pos < 0:
            return pos
        if length < 0 or length > end - pos:
            return -BAD_LENGTH
        after: int = pos + length
        return after
    return -BAD_WIRE_TYPE


# Column indexes of the per-series and per-label arrays the scanner fills.
_LABEL_FIRST, _SAMPLE_FIRST, _KEY_START, _KEY_END, _KEY_CONTIGUOUS = range(5)
_NAME_START, _NAME_END, _VALUE_START, _VALUE_END = range(4)


@numba.njit(cache=True, nogil=True)
def _scan(
    buf: npt.NDArray[np.uint8],
    series: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64],
    timestamps: Int64s,
    value_bits: Int64s,
) -> tuple[int, int, int, int]:
    """Fill the arrays; returns (error code, series, labels, samples found)."""
    n = buf.size
    n_series = 0
    n_labels = 0
    n_samples = 0
    pos = 0
    while pos < n:
        tag, pos = _varint(buf, pos, n)
        if pos < 0:
            return -pos, n_series, n_labels, n_samples
        field, wire = tag >> 3, tag & 7
        if field != 1 or wire != 2:
            pos = _skip(buf, pos, n, wire)
            if pos < 0:
                return -pos, n_series, n_labels, n_samples
            continue
        length, pos = _varint(buf, pos, n)
        if pos < 0:
            return -pos, n_series, n_labels, n_samples
        if length < 0 or length > n - pos:
            return BAD_LENGTH, n_series, n_labels, n_samples
        ts_end = pos + length
        series[n_series, _LABEL_FIRST] = n_labels
        series[n_series, _SAMPLE_FIRST] = n_samples
        series[n_series, _KEY_START] = -1
        series[n_series, _KEY_END] = -1
        series[n_series, _KEY_CONTIGUOUS] = 1
        while pos < ts_end:
            field_start = pos
            tag, pos = _varint(buf, pos, ts_end)
            if pos < 0:
                return -pos, n_series, n_labels, n_samples
            field, wire = tag >> 3, tag & 7
            if field == 4:
                return HISTOGRAMS, n_series, n_labels, n_samples
            if (field != 1 and field != 2) or wire != 2:
                pos = _skip(buf, pos, ts_end, wire)
                if pos < 0:
                    return -pos, n_series, n_labels, n_samples
                continue
            length, pos = _varint(buf, pos, ts_end)
            if pos < 0:
                return -pos, n_series, n_labels, n_samples
            if length < 0 or length > ts_end - pos:
                return BAD_LENGTH, n_series, n_labels, n_samples
            sub_end = pos + length
            if field == 1:
                if series[n_series, _KEY_START] < 0:
                    series[n_series, _KEY_START] = field_start
                elif series[n_series, _KEY_END] != field_start:
                    series[n_series, _KEY_CONTIGUOUS] = 0
                series[n_series, _KEY_END] = sub_end
                for column in range(4):
                    labels[n_labels, column] = pos
            else:
                timestamps[n_samples] = 0
                value_bits[n_samples] = 0
            while pos < sub_end:
                tag, pos = _varint(buf, pos, sub_end)
                if pos < 0:
                    return -pos, n_series, n_labels, n_samples
                inner, wire = tag >> 3, tag & 7
                if field == 1 and wire == 2 and (inner == 1 or inner == 2):
                    length, pos = _varint(buf, pos, sub_end)
                    if pos < 0:
                        return -pos, n_series, n_labels, n_samples
                    if length < 0 or length > sub_end - pos:
                        return BAD_LENGTH, n_series, n_labels, n_samples
                    first = _NAME_START if inner == 1 else _VALUE_START
                    labels[n_labels, first] = pos
                    labels[n_labels, first + 1] = pos + length
                    pos += length
                elif field == 2 and inner == 1 and wire == 1:
                    if pos + 8 > sub_end:
                        return TRUNCATED, n_series, n_labels, n_samples
                    bits = np.int64(0)
                    for k in range(8):
                        bits |= np.int64(buf[pos + k]) << np.int64(8 * k)
                    value_bits[n_samples] = bits
                    pos += 8
                elif field == 2 and inner == 2 and wire == 0:
                    stamp, pos = _varint(buf, pos, sub_end)
                    if pos < 0:
                        return -pos, n_series, n_labels, n_samples
                    timestamps[n_samples] = stamp
                else:
                    pos = _skip(buf, pos, sub_end, wire)
                    if pos < 0:
                        return -pos, n_series, n_labels, n_samples
            if field == 1:
                n_labels += 1
            else:
                n_samples += 1
        n_series += 1
    series[n_series, _LABEL_FIRST] = n_labels
    series[n_series, _SAMPLE_FIRST] = n_samples
    return OK, n_series, n_labels, n_samples


class ScanError(ValueError):
    """The body is not a well-formed prometheus.WriteRequest."""


def scan_write_request(body: bytes) -> ScannedWriteRequest:
    """Locate every series, label and sample of an uncompressed WriteRequest in one pass."""
    cap = len(body) // 2 + 2  # every series, label and sample field takes at least two bytes
    series = np.empty((cap, 5), np.int64)
    labels = np.empty((cap, 4), np.int64)
    timestamps = np.empty(cap, np.int64)
    value_bits = np.empty(cap, np.int64)
    buf = np.frombuffer(body, dtype=np.uint8)
    code, n_series, n_labels, n_samples = _scan(buf, series, labels, timestamps, value_bits)
    if code != OK:
        raise ScanError(ERROR_TEXT[code])
    series_cols = series[: n_series + 1].T.copy()
    label_cols = labels[:n_labels].T.copy()
    return ScannedWriteRequest(
        label_first=series_cols[_LABEL_FIRST],
        sample_first=series_cols[_SAMPLE_FIRST],
        key_start=series_cols[_KEY_START, :n_series],
        key_end=series_cols[_KEY_END, :n_series],
        key_contiguous=series_cols[_KEY_CONTIGUOUS, :n_series].astype(np.bool_),
        name_start=label_cols[_NAME_START],
        name_end=label_cols[_NAME_END],
        value_start=label_cols[_VALUE_START],
        value_end=label_cols[_VALUE_END],
        timestamps=timestamps[:n_samples].copy(),
        value_bits=value_bits[:n_samples].view(np.uint64).copy(),
    )
