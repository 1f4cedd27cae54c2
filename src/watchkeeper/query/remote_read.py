"""Prometheus remote_read: the `prompb.ReadRequest` codec and both response types.

Spec: https://prometheus.io/docs/prometheus/latest/querying/remote_read_api/ and
`prompb/remote.proto`. `SAMPLES` answers one snappy-compressed `ReadResponse` (what Prometheus'
own remote_read client asks for); `STREAMED_XOR_CHUNKS` answers a stream of
`ChunkedReadResponse` frames — uvarint length, CRC32-Castagnoli (big-endian) of the message,
the message — each holding one series' samples as Prometheus XOR chunks (`tsdb/chunkenc/
xor.go`) of at most 120 samples, as Prometheus' head cuts them. Thanos sidecars and other
readers that ask for chunks get them.

Written in protobuf wire format directly, as the remote_write codec is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cramjam

from watchkeeper.domain.protowire import (
    WireFormatError,
    fields,
    length_delimited,
    read_varint,
    varint,
)
from watchkeeper.domain.series import Labels, Matcher, MatchOp, SeriesSamples

SAMPLES = 0
STREAMED_XOR_CHUNKS = 1
CHUNK_SAMPLES = 120
STREAMED_CONTENT_TYPE = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
_OPS = {0: MatchOp.EQUAL, 1: MatchOp.NOT_EQUAL, 2: MatchOp.REGEX, 3: MatchOp.NOT_REGEX}
_DOUBLE = struct.Struct("<d")
_U64 = struct.Struct(">Q")


class ReadDecodeError(ValueError):
    """The body is not a snappy-compressed ReadRequest (the API answers 400)."""


@dataclass(frozen=True)
class ReadQuery:
    start_ms: int
    end_ms: int
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True)
class ReadRequest:
    queries: tuple[ReadQuery, ...]
    accepted_response_types: tuple[int, ...]

    @property
    def streamed(self) -> bool:
        """Prometheus' server rule: the first type it supports in the client's order wins."""
        for kind in self.accepted_response_types:
            if kind in (SAMPLES, STREAMED_XOR_CHUNKS):
                return kind == STREAMED_XOR_CHUNKS
        return False


# -- decoding --------------------------------------------------------------------------------


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ReadDecodeError("expected a string field")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise ReadDecodeError("a label matcher is not valid UTF-8") from None


def _matcher(data: bytes) -> Matcher:
    kind, name, value = 0, "", ""
    for number, wire, field in fields(data):
        if number == 1 and wire == 0 and isinstance(field, int):
            kind = field
        elif number == 2:
            name = _text(field)
        elif number == 3:
            value = _text(field)
    if kind not in _OPS:
        raise ReadDecodeError(f"unknown matcher type {kind}")
    if not name:
        raise ReadDecodeError("a label matcher needs a name")
    return Matcher(name, _OPS[kind], value)


def _query(data: bytes) -> ReadQuery:
    start = end = 0
    matchers: list[Matcher] = []
    for number, wire, field in fields(data):
        if number == 1 and wire == 0 and isinstance(field, int):
            start = _signed(field)
        elif number == 2 and wire == 0 and isinstance(field, int):
            end = _signed(field)
        elif number == 3 and isinstance(field, bytes):
            matchers.append(_matcher(field))
    return ReadQuery(start, end, tuple(matchers))


def decode_request(body: bytes, *, max_decoded_bytes: int, max_queries: int) -> ReadRequest:
    try:
        length = cramjam.snappy.decompress_raw_len(body)
    except Exception as exc:  # cramjam raises its own error type
        raise ReadDecodeError(f"not snappy: {exc}") from None
    if length > max_decoded_bytes:
        raise ReadDecodeError(f"decoded request of {length} bytes exceeds {max_decoded_bytes}")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:
        raise ReadDecodeError(f"not snappy: {exc}") from None
    try:
        queries, types = _request_fields(raw, max_queries)
    except WireFormatError as exc:
        raise ReadDecodeError(str(exc)) from None
    return ReadRequest(tuple(queries), tuple(types))


def _request_fields(raw: bytes, max_queries: int) -> tuple[list[ReadQuery], list[int]]:
    queries: list[ReadQuery] = []
    types: list[int] = []
    for number, wire, field in fields(raw):
        if number == 1 and isinstance(field, bytes):
            queries.append(_query(field))
            if len(queries) > max_queries:
                raise ReadDecodeError(f"more than {max_queries} queries in one request")
        elif number == 2 and wire == 0 and isinstance(field, int):
            types.append(field)
        elif number == 2 and isinstance(field, bytes):  # packed
            pos = 0
            while pos < len(field):
                kind, pos = read_varint(field, pos)
                types.append(kind)
    return queries, types


# -- encoding --------------------------------------------------------------------------------


def _labels(labels: Labels) -> bytes:
    return b"".join(
        length_delimited(
            1, length_delimited(1, name.encode()) + length_delimited(2, value.encode())
        )
        for name, value in labels
    )


def _timeseries(series: SeriesSamples) -> bytes:
    samples = b"".join(
        length_delimited(2, b"\x09" + _DOUBLE.pack(value) + b"\x10" + varint(timestamp))
        for timestamp, value in zip(series.timestamps.tolist(), series.values.tolist(), strict=True)
    )
    return _labels(series.labels) + samples


def encode_samples_response(results: Sequence[Sequence[SeriesSamples]]) -> bytes:
    """A snappy-compressed ReadResponse with one QueryResult per query."""
    body = b"".join(
        length_delimited(1, b"".join(length_delimited(1, _timeseries(s)) for s in r))
        for r in results
    )
    return bytes(cramjam.snappy.compress_raw(body))


class _Bits:
    """A bit stream written most significant bit first, as Prometheus' `bstream`."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def write(self, value: int, bits: int) -> None:
        self.value = (self.value << bits) | (value & ((1 << bits) - 1))
        self.count += bits

    def to_bytes(self) -> bytes:
        padding = -self.count % 8
        return (self.value << padding).to_bytes((self.count + padding) // 8, "big")


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _float_bits(value: float) -> int:
    return int(_U64.unpack(struct.pack(">d", value))[0])


def xor_chunk(timestamps: Sequence[int], values: Sequence[float]) -> bytes:
    """Samples as one Prometheus XOR chunk (`chunkenc.XORChunk`), bit for bit."""
    bits = _Bits()
    leading, trailing = 0xFF, 0
    previous_t = previous_delta = previous_v = 0
    for index, (t, v) in enumerate(zip(timestamps, values, strict=True)):
        v_bits = _float_bits(v)
        if index == 0:
            for byte in varint(_zigzag(t)):  # binary.PutVarint
                bits.write(byte, 8)
            bits.write(v_bits, 64)
        elif index == 1:
            previous_delta = t - previous_t
            for byte in varint(previous_delta):  # binary.PutUvarint
                bits.write(byte, 8)
            leading, trailing = _xor_write(bits, v_bits, previous_v, leading, trailing)
        else:
            delta = t - previous_t
            dod = delta - previous_delta
            if dod == 0:
                bits.write(0, 1)
            elif -8191 <= dod <= 8192:
                bits.write(0b10, 2)
                bits.write(dod, 14)
            elif -65535 <= dod <= 65536:
                bits.write(0b110, 3)
                bits.write(dod, 17)
            elif -524287 <= dod <= 524288:
                bits.write(0b1110, 4)
                bits.write(dod, 20)
            else:
                bits.write(0b1111, 4)
                bits.write(dod, 64)
            previous_delta = delta
            leading, trailing = _xor_write(bits, v_bits, previous_v, leading, trailing)
        previous_t, previous_v = t, v_bits
    return len(timestamps).to_bytes(2, "big") + bits.to_bytes()


def _xor_write(
    bits: _Bits, value: int, previous: int, leading: int, trailing: int
) -> tuple[int, int]:
    delta = value ^ previous
    if delta == 0:
        bits.write(0, 1)
        return leading, trailing
    bits.write(1, 1)
    new_leading = 64 - delta.bit_length()
    new_trailing = (delta & -delta).bit_length() - 1
    new_leading = min(new_leading, 31)
    if leading != 0xFF and new_leading >= leading and new_trailing >= trailing:
        bits.write(0, 1)
        bits.write(delta >> trailing, 64 - leading - trailing)
        return leading, trailing
    bits.write(1, 1)
    bits.write(new_leading, 5)
    significant = 64 - new_leading - new_trailing
    bits.write(significant % 64, 6)  # 64 is written as 0, as Prometheus does
    bits.write(delta >> new_trailing, significant)
    return new_leading, new_trailing


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def streamed_frames(query_index: int, series: Sequence[SeriesSamples]) -> Iterator[bytes]:
    """One frame per series: its samples cut into XOR chunks of `CHUNK_SAMPLES`."""
    for one in series:
        timestamps = one.timestamps.tolist()
        values = one.values.tolist()
        chunks = b""
        for first in range(0, len(timestamps), CHUNK_SAMPLES):
            ts = timestamps[first : first + CHUNK_SAMPLES]
            chunk = (
                b"\x08"
                + varint(ts[0])
                + b"\x10"
                + varint(ts[-1])
                + b"\x18\x01"
                + length_delimited(4, xor_chunk(ts, values[first : first + CHUNK_SAMPLES]))
            )
            chunks += length_delimited(2, chunk)
        message = length_delimited(1, _labels(one.labels) + chunks) + b"\x10" + varint(query_index)
        yield varint(len(message)) + crc32c(message).to_bytes(4, "big") + message
