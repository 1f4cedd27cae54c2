"""The metadata of a remote_write request (`WriteRequest.metadata`, field 3).

Prometheus sends metric metadata in requests of their own, every `metadata_config.send_interval`
(1 minute), with no series in them; the sample path's compiled scanner skips the field. This
reads only the top-level fields of such a request, so it costs nothing for the sample path:
the receiver calls it only for requests that carried no samples.
"""

from __future__ import annotations

import cramjam

from watchkeeper.domain.protowire import WireFormatError, fields
from watchkeeper.ingest.metadata import MetricMetadata

# prometheus.MetricMetadata.MetricType
_TYPES: tuple[str, ...] = (
    "unknown",
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
)
MAX_ENTRIES = 10_000


class MetadataDecodeError(ValueError):
    """The body's metadata is not well-formed protobuf."""


def metadata_of(body: bytes, *, max_decoded_bytes: int) -> list[tuple[str, MetricMetadata]]:
    """(metric family, metadata) pairs of a snappy-compressed WriteRequest."""
    try:
        if cramjam.snappy.decompress_raw_len(body) > max_decoded_bytes:
            raise MetadataDecodeError(f"decoded body exceeds {max_decoded_bytes} bytes")
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except MetadataDecodeError:
        raise
    except Exception as exc:  # cramjam raises its own error type
        raise MetadataDecodeError(f"not snappy: {exc}") from None
    try:
        return _families(raw)
    except WireFormatError as exc:
        raise MetadataDecodeError(str(exc)) from None


def _families(raw: bytes) -> list[tuple[str, MetricMetadata]]:
    found: list[tuple[str, MetricMetadata]] = []
    for number, wire, value in fields(raw):
        if number != 3 or wire != 2 or not isinstance(value, bytes):
            continue
        kind, name, help_text, unit = 0, "", "", ""
        for inner, inner_wire, inner_value in fields(value):
            if inner == 1 and inner_wire == 0 and isinstance(inner_value, int):
                kind = inner_value
            elif inner_wire == 2 and isinstance(inner_value, bytes):
                text = inner_value.decode("utf-8", "replace")
                if inner == 2:
                    name = text
                elif inner == 4:
                    help_text = text
                elif inner == 5:
                    unit = text
        if name:
            type_name = _TYPES[kind] if 0 <= kind < len(_TYPES) else "unknown"
            found.append((name, MetricMetadata(type_name, help_text, unit)))
        if len(found) >= MAX_ENTRIES:
            break
    return found
