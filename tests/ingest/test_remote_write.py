"""The remote_write codec: round trips, agreement with the protobuf runtime, clear errors."""

from __future__ import annotations

import cramjam
import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.domain.series import STALE_NAN_BITS, Labels, SeriesSamples, labels_from_dict
from watchkeeper.ingest.remote_write import (
    LabelCache,
    RemoteWriteDecodeError,
    decode,
    decode_columns,
    encode,
)

# The reference: Prometheus' prompb messages (types.proto, remote.proto), built from a
# descriptor because protoc is not installed, parsed and serialised by the upb runtime.

_F = descriptor_pb2.FieldDescriptorProto


def _message(
    file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple[str, int, int, str]]
) -> None:
    message = file.message_type.add(name=name)
    for field_name, number, field_type, type_name in fields:
        repeated = type_name.startswith("repeated")
        label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        field = message.field.add(name=field_name, number=number, type=field_type, label=label)
        message_name = type_name.removeprefix("repeated").strip()
        if message_name:
            field.type_name = ".prometheus." + message_name


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="watchkeeper/prompb/remote.proto", package="prometheus", syntax="proto3"
    )
    _message(file, "Label", [("name", 1, _F.TYPE_STRING, ""), ("value", 2, _F.TYPE_STRING, "")])
    _message(
        file, "Sample", [("value", 1, _F.TYPE_DOUBLE, ""), ("timestamp", 2, _F.TYPE_INT64, "")]
    )
    _message(
        file,
        "Exemplar",
        [
            ("labels", 1, _F.TYPE_MESSAGE, "repeated Label"),
            ("value", 2, _F.TYPE_DOUBLE, ""),
            ("timestamp", 3, _F.TYPE_INT64, ""),
        ],
    )
    # Native histograms are only declared as opaque bytes: Watchkeeper rejects them.
    _message(
        file,
        "TimeSeries",
        [
            ("labels", 1, _F.TYPE_MESSAGE, "repeated Label"),
            ("samples", 2, _F.TYPE_MESSAGE, "repeated Sample"),
            ("exemplars", 3, _F.TYPE_MESSAGE, "repeated Exemplar"),
            ("histograms", 4, _F.TYPE_BYTES, "repeated"),
        ],
    )
    _message(file, "WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, "repeated TimeSeries")])
    return file


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())

Label = GetMessageClass(_pool.FindMessageTypeByName("prometheus.Label"))
Sample = GetMessageClass(_pool.FindMessageTypeByName("prometheus.Sample"))
TimeSeries = GetMessageClass(_pool.FindMessageTypeByName("prometheus.TimeSeries"))
WriteRequest = GetMessageClass(_pool.FindMessageTypeByName("prometheus.WriteRequest"))


label_sets = st.dictionaries(
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True),
    st.text(min_size=1, max_size=8),
    min_size=1,
    max_size=6,
)
int64s = st.integers(-(2**63), 2**63 - 1)
value_bits = st.integers(0, 2**64 - 1)  # any float64, NaN payloads included


def _series(labels: dict[str, str], times: list[int], bits: list[int]) -> SeriesSamples:
    n = min(len(times), len(bits))
    return SeriesSamples(
        labels_from_dict(labels),
        np.array(times[:n], dtype=np.int64),
        np.array(bits[:n], dtype=np.uint64).view(np.float64),
    )


series_lists = st.lists(
    st.builds(_series, label_sets, st.lists(int64s, max_size=5), st.lists(value_bits, max_size=5)),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(series_lists)
def test_decode_inverts_encode_bit_for_bit(batch: list[SeriesSamples]) -> None:
    decoded = decode(encode(batch), cache=LabelCache())
    assert [s.labels for s in decoded] == [s.labels for s in batch]
    for got, sent in zip(decoded, batch, strict=True):
        assert got.timestamps.tolist() == sent.timestamps.tolist()
        assert got.values.view(np.uint64).tolist() == sent.values.view(np.uint64).tolist()


@settings(max_examples=30, deadline=None)
@given(series_lists)
def test_columns_hold_the_same_samples_as_series(batch: list[SeriesSamples]) -> None:
    body = encode(batch)
    by_series: dict[Labels, tuple[list[int], list[int]]] = {}
    for s in decode(body):
        ts, vs = by_series.get(s.labels, ([], []))
        by_series[s.labels] = (ts + s.timestamps.tolist(), vs + s.values.view(np.uint64).tolist())
    columns = decode_columns(body).to_series()
    assert {
        s.labels: (s.timestamps.tolist(), s.values.view(np.uint64).tolist()) for s in columns
    } == {k: v for k, v in by_series.items() if v[0]}


def test_agrees_with_the_protobuf_runtime_on_field_order_and_defaults() -> None:
    request = WriteRequest()
    series = request.timeseries.add()
    series.samples.add(timestamp=5)  # value 0.0 is omitted on the wire
    series.labels.add(name="job", value="x")
    series.samples.add(value=float("inf"), timestamp=6)
    series.labels.add(name="__name__", value="up")  # labels after samples, unsorted
    series.exemplars.add(value=1.0, timestamp=6)  # ignored
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    (got,) = decode(body)
    assert got.labels == (("__name__", "up"), ("job", "x"))
    assert got.timestamps.tolist() == [5, 6] and got.values.tolist() == [0.0, float("inf")]


def test_staleness_marker_keeps_its_bits() -> None:
    stale = np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)
    (got,) = decode(encode([SeriesSamples((("__name__", "up"),), np.array([1]), stale)]))
    assert int(got.values.view(np.uint64)[0]) == STALE_NAN_BITS


def _compressed(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "snappy"),
        (b"\x05not snappy at all", "snappy"),
        (_compressed(b"\x0a\x10\x0a"), "bad protobuf"),  # timeseries longer than the body
        (_compressed(b"\x0a\x02\x22\x00"), "native histograms"),
        (_compressed(b"\x0b"), "wire type"),  # deprecated group start
        (_compressed(b"\x0a\x06\x0a\x04\x0a\x02\xff\xfe"), "UTF-8"),
    ],
)
def test_malformed_bodies_raise_a_value_error(body: bytes, message: str) -> None:
    with pytest.raises(RemoteWriteDecodeError, match=message):
        decode(body, cache=LabelCache())


def test_duplicate_label_names_are_rejected() -> None:
    request = WriteRequest()
    series = request.timeseries.add()
    series.labels.add(name="a", value="1")
    series.labels.add(name="a", value="2")
    with pytest.raises(RemoteWriteDecodeError, match="duplicate label"):
        decode(_compressed(request.SerializeToString()), cache=LabelCache())


def test_oversized_snappy_blocks_are_refused_before_decompressing() -> None:
    body = _compressed(b"\x00" * 10_000)
    with pytest.raises(RemoteWriteDecodeError, match="more than"):
        decode(body, max_decoded_bytes=1_000)
