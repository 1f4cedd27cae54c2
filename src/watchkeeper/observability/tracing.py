"""OpenTelemetry tracing of requests and database calls; the exporter comes from the config."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

import watchkeeper
from watchkeeper.config import ObservabilitySettings


def build_tracer_provider(settings: ObservabilitySettings) -> TracerProvider | None:
    """None when tracing is off, so requests pay nothing for it."""
    if settings.tracing_exporter == "none":
        return None
    exporter: SpanExporter
    if settings.tracing_exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": settings.service_name, "service.version": watchkeeper.__version__}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument(app: Any, engine: Any, provider: TracerProvider | None) -> None:
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=provider)
