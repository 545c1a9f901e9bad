"""Optional OpenTelemetry tracing: off unless an OTLP endpoint is configured.

``configure(environ)`` turns it on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set and the ``[otel]`` extra is installed; the
exporter (OTLP over HTTP) reads the standard ``OTEL_*`` variables itself (headers,
timeout, certificate), and ``OTEL_SERVICE_NAME`` names the service (``helpdesk-bot``).
Without the extra the bot says so once and runs untraced.

Spans: one per Slack request the work process runs (``slack.request``), one per employee
turn (``helpdesk.turn``: a message, a command, a click) and, inside it, one per call to an
identity system (``connector.<operation>``), each with the turn's correlation id as
``helpdesk.correlation_id`` (the id employees are shown and the audit trail records), so a
trace, a log line and an audit record are found from one another. Nothing secret is ever
an attribute: names, kinds and ids only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from config.logging import get_logger

log = get_logger("helpdesk.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class _State:
    tracer: Any = None
    provider: Any = None


_STATE = _State()


def configure(environ: Mapping[str, str]) -> bool:
    """Export spans over OTLP when an endpoint is configured; whether tracing is on."""
    endpoint = next((environ[v] for v in ENDPOINT_VARIABLES if environ.get(v)), None)
    if endpoint is None:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing_unavailable", endpoint=endpoint,
                    reason="an OTLP endpoint is set but the [otel] extra is not installed")
        return False
    name = environ.get("OTEL_SERVICE_NAME") or "helpdesk-bot"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    log.info("tracing_enabled", endpoint=endpoint, service=name)
    return True


def use(provider: Any) -> None:
    """Trace through ``provider`` (an OpenTelemetry ``TracerProvider``); None turns it off."""
    _STATE.provider = provider
    _STATE.tracer = None if provider is None else provider.get_tracer("helpdesk")


def enabled() -> bool:
    return _STATE.tracer is not None


@contextlib.contextmanager
def span(name: str, correlation_id: str, **attributes: str) -> Iterator[None]:
    """A span named ``name`` around the block (nothing at all when tracing is off)."""
    tracer = _STATE.tracer
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(name) as current:
        current.set_attribute("helpdesk.correlation_id", correlation_id)
        for key, value in attributes.items():
            current.set_attribute(f"helpdesk.{key}", value)
        yield


def correlation_started(correlation_id: str) -> None:
    """A new correlation id (a conversation turn) began inside the current span: record it
    there, so the request's span and its connector calls carry the same id."""
    if _STATE.tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attribute("helpdesk.correlation_id", correlation_id)


def shutdown() -> None:
    """Flush spans still queued (at exit)."""
    provider = _STATE.provider
    if provider is not None:
        provider.shutdown()
        use(None)
