"""Protocol Buffers wire format, read and written by hand for the small Prometheus messages
(remote_write metadata, remote_read) where building message objects would cost more than the
work itself. The hot remote_write sample path has its own compiled scanner."""

from __future__ import annotations

from collections.abc import Iterator

_MASK64 = (1 << 64) - 1


class WireFormatError(ValueError):
    """Bytes that are not well-formed protobuf."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at `pos`."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one message's fields: varints as ints,
    length-delimited fields as bytes (nested messages are parsed by the caller); fixed-width
    fields are skipped."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = read_varint(data, pos)
            if pos + length > len(data):
                raise WireFormatError("truncated field")
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise WireFormatError(f"unsupported wire type {wire}")
    if pos != len(data):
        raise WireFormatError("truncated message")


def varint(value: int) -> bytes:
    """A varint (negative int64 values as their two's complement, as protobuf writes them)."""
    out = bytearray()
    value &= _MASK64
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """Field `number` holding `payload` (a string, bytes or a nested message)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload
