"""OTLP metrics in (`POST /v1/metrics`): an `ExportMetricsServiceRequest`, as protobuf or JSON,
turned into series the way Prometheus 3's OTLP receiver turns it (translation strategy
`UnderscoreEscapingWithSuffixes`, its default):

- names: characters outside `[a-zA-Z0-9_:]` become `_`; the unit is appended as a word
  (`s` -> `_seconds`, `By` -> `_bytes`, `1` on a gauge -> `_ratio`, `x/y` -> `_x_per_y`,
  `{annotations}` dropped) unless the name already ends with it; monotonic sums get `_total`;
- labels: attribute keys escaped the same way (`key_` before a leading digit);
  `job` = `service.namespace/service.name`, `instance` = `service.instance.id`; the other
  resource attributes go on one `target_info` series per resource (value 1), as Prometheus does;
- gauges and sums one series each; explicit-bucket histograms `_bucket{le}` (cumulative,
  `+Inf` = count), `_sum`, `_count`; summaries `{quantile}`, `_sum`, `_count`; a point flagged
  "no recorded value" becomes Prometheus' staleness marker.

Refused, and counted in the answer's `partial_success` (the rest is written): delta
temporality (Prometheus 3 refuses it too unless converted) and exponential histograms (they map
only onto native histograms, which the store does not hold).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from watchkeeper.domain.series import (
    METRIC_NAME_LABEL,
    STALE_NAN,
    SeriesSamples,
    labels_from_dict,
)

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_MULTIPLE = re.compile(r"__+")
_ANNOTATION = re.compile(r"\{[^}]*\}")
_NO_RECORDED_VALUE = 1  # DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK

UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "m": "meters", "V": "volts",
    "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius", "Hz": "hertz",
    "1": "", "%": "percent",
}  # fmt: skip
"""Prometheus' otlptranslator unit words."""
PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
PER_UNITS |= {"mo": "month", "y": "year"}


class OtlpDecodeError(ValueError):
    """The body is not an OTLP metrics export request (the API answers 400)."""


@dataclass
class Translation:
    """The series of one request and what was refused, for `partial_success`."""

    series: list[SeriesSamples] = field(default_factory=list)
    rejected_points: int = 0
    reasons: list[str] = field(default_factory=list)

    def refuse(self, points: int, reason: str) -> None:
        self.rejected_points += points
        if reason not in self.reasons:
            self.reasons.append(reason)


def decode(
    body: bytes, *, content_type: str, encoding: str, max_bytes: int
) -> ExportMetricsServiceRequest:
    """Decompress (gzip or deflate, bounded) and parse protobuf or JSON."""
    if encoding in ("gzip", "deflate"):
        try:
            inflater = zlib.decompressobj(wbits=47 if encoding == "gzip" else 15)
            body = inflater.decompress(body, max_bytes + 1)
        except zlib.error as exc:
            raise OtlpDecodeError(f"body is not valid {encoding}: {exc}") from None
        if len(body) > max_bytes:
            raise OtlpDecodeError(f"decompressed body exceeds {max_bytes} bytes")
    elif encoding not in ("", "identity"):
        raise OtlpDecodeError(f"unsupported Content-Encoding {encoding!r} (gzip or none)")
    request = ExportMetricsServiceRequest()
    try:
        if content_type == "application/json":
            json_format.Parse(body.decode("utf-8"), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (json_format.ParseError, DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise OtlpDecodeError(f"not an OTLP ExportMetricsServiceRequest: {exc}") from None
    return request


def response(translation: Translation, *, content_type: str) -> bytes:
    answer = ExportMetricsServiceResponse()
    if translation.rejected_points:
        answer.partial_success.rejected_data_points = translation.rejected_points
        answer.partial_success.error_message = "; ".join(translation.reasons)
    if content_type == "application/json":
        return str(json_format.MessageToJson(answer, indent=None)).encode()
    return bytes(answer.SerializeToString())


def _value(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind in ("array_value", "kvlist_value", "bytes_value"):
        return str(json_format.MessageToJson(value, indent=None))
    return str(getattr(value, kind)).lower() if kind == "bool_value" else str(getattr(value, kind))


def label_name(key: str) -> str:
    name = _MULTIPLE.sub("_", _INVALID_LABEL.sub("_", key))
    if name and name[0].isdigit():
        name = "key_" + name
    return name or "key_"


def _attributes(attributes: Iterable[KeyValue]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in attributes:
        name = label_name(item.key)
        value = _value(item.value)
        labels[name] = f"{labels[name]};{value}" if name in labels else value
    return labels


def _unit_words(unit: str, *, gauge: bool) -> list[str]:
    unit = _ANNOTATION.sub("", unit).strip()
    if not unit:
        return []
    if unit == "1":
        return ["ratio"] if gauge else []
    main, _, per = unit.partition("/")
    words = []
    if main:
        words.append(UNITS.get(main, main))
    if per:
        words += ["per", PER_UNITS.get(per, per)]
    return [w for word in words for w in _INVALID.sub("_", word).split("_") if w]


def metric_name(name: str, unit: str, *, counter: bool, gauge: bool) -> str:
    """Prometheus' `BuildCompliantName` with suffixes."""
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]+", name) if t]
    for word in _unit_words(unit, gauge=gauge):
        if word not in tokens:
            tokens.append(word)
    if counter:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    built = "_".join(tokens) or "_"
    return "_" + built if built[0].isdigit() else built


def _resource_labels(attributes: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(job/instance labels for every series, the rest for `target_info`)."""
    raw = dict(attributes)
    service = raw.pop("service.name", "")
    namespace = raw.pop("service.namespace", "")
    instance = raw.pop("service.instance.id", "")
    identity: dict[str, str] = {}
    if service:
        identity["job"] = f"{namespace}/{service}" if namespace else service
    if instance:
        identity["instance"] = instance
    return identity, raw


def translate(request: ExportMetricsServiceRequest) -> Translation:
    out = Translation()
    for resource_metrics in request.resource_metrics:
        attributes = {kv.key: _value(kv.value) for kv in resource_metrics.resource.attributes}
        identity, rest = _resource_labels(attributes)
        newest = 0
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                newest = max(newest, _metric(out, metric, identity))
        if rest and newest and identity:
            info = {**identity, **_attributes_from(rest)}
            _add(out, "target_info", info, newest, 1.0)
    return out


def _attributes_from(values: Mapping[str, str]) -> dict[str, str]:
    return {label_name(k): v for k, v in values.items()}


def _add(out: Translation, name: str, labels: dict[str, str], t_ms: int, value: float) -> None:
    out.series.append(
        SeriesSamples(
            labels_from_dict({**labels, METRIC_NAME_LABEL: name}),
            np.array([t_ms], dtype=np.int64),
            np.array([value], dtype=np.float64),
        )
    )


def _labels(point_attributes: Iterable[KeyValue], identity: Mapping[str, str]) -> dict[str, str]:
    # Resource identity wins over a point attribute of the same name, as in Prometheus.
    return {**_attributes(point_attributes), **identity}


def _metric(out: Translation, metric: Metric, identity: Mapping[str, str]) -> int:
    """Series of one metric; returns its newest timestamp (ms)."""
    kind = metric.WhichOneof("data")
    newest = 0
    if kind in ("gauge", "sum"):
        data = metric.gauge if kind == "gauge" else metric.sum
        counter = kind == "sum" and metric.sum.is_monotonic
        if (
            kind == "sum"
            and metric.sum.aggregation_temporality
            == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        ):
            out.refuse(len(data.data_points), f"{metric.name}: delta temporality is not supported")
            return 0
        name = metric_name(metric.name, metric.unit, counter=counter, gauge=not counter)
        for point in data.data_points:
            t_ms = point.time_unix_nano // 1_000_000
            value = (
                point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
            )
            if point.flags & _NO_RECORDED_VALUE:
                value = STALE_NAN
            _add(out, name, _labels(point.attributes, identity), t_ms, value)
            newest = max(newest, t_ms)
    elif kind == "histogram":
        if (
            metric.histogram.aggregation_temporality
            == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
        ):
            out.refuse(
                len(metric.histogram.data_points),
                f"{metric.name}: delta temporality is not supported",
            )
            return 0
        base = metric_name(metric.name, metric.unit, counter=False, gauge=False)
        for point in metric.histogram.data_points:
            t_ms = point.time_unix_nano // 1_000_000
            labels = _labels(point.attributes, identity)
            stale = bool(point.flags & _NO_RECORDED_VALUE)
            cumulative = 0
            for bound, count in zip(point.explicit_bounds, point.bucket_counts, strict=False):
                cumulative += count
                _add(
                    out,
                    f"{base}_bucket",
                    {**labels, "le": _le(bound)},
                    t_ms,
                    STALE_NAN if stale else float(cumulative),
                )
            _add(
                out,
                f"{base}_bucket",
                {**labels, "le": "+Inf"},
                t_ms,
                STALE_NAN if stale else float(point.count),
            )
            if point.HasField("sum"):
                _add(out, f"{base}_sum", labels, t_ms, STALE_NAN if stale else point.sum)
            _add(out, f"{base}_count", labels, t_ms, STALE_NAN if stale else float(point.count))
            newest = max(newest, t_ms)
    elif kind == "summary":
        base = metric_name(metric.name, metric.unit, counter=False, gauge=False)
        for point in metric.summary.data_points:
            t_ms = point.time_unix_nano // 1_000_000
            labels = _labels(point.attributes, identity)
            stale = bool(point.flags & _NO_RECORDED_VALUE)
            for quantile in point.quantile_values:
                _add(
                    out,
                    base,
                    {**labels, "quantile": _le(quantile.quantile)},
                    t_ms,
                    STALE_NAN if stale else quantile.value,
                )
            _add(out, f"{base}_sum", labels, t_ms, STALE_NAN if stale else point.sum)
            _add(out, f"{base}_count", labels, t_ms, STALE_NAN if stale else float(point.count))
            newest = max(newest, t_ms)
    elif kind == "exponential_histogram":
        out.refuse(
            len(metric.exponential_histogram.data_points),
            f"{metric.name}: exponential histograms are not supported (no native histograms)",
        )
    return newest


def _le(bound: float) -> str:
    """Prometheus' float formatting for `le` and `quantile` (`formatFloat`)."""
    if bound == float("inf"):
        return "+Inf"
    if bound == float("-inf"):
        return "-Inf"
    return np.format_float_positional(bound, trim="-")  # Go's FormatFloat(f, 'f', -1, 64)
