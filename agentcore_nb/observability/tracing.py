"""Where spans go: the user's OpenTelemetry SDK when they configured one, else the project's own.

Design (the pitfall: OpenTelemetry refuses to replace a global tracer provider once set). The
project never sets the global provider. Its tracers are *switching* tracers: each span start asks
whether the global provider is a real one (the user called ``trace.set_tracer_provider``); if so
the span goes there, untouched by us; if not, it goes to the project's private provider: light
spans (``lightspan.py``) that the span store writes, or, with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set,
an SDK provider whose processors write the store and export over OTLP/HTTP. So a user who
configures their SDK before or after the project started gets every span from then on, and
nobody's configuration is replaced.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_PYTHON_TRACER_PROVIDER
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import ProxyTracerProvider

from .._version import __version__
from ..db import Database
from .lightspan import LightTracerProvider
from .store import SpanStore, StoreSpanProcessor

OTLP_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
#: Seconds an OTLP export may take before it is abandoned (off the hot path either way).
OTLP_TIMEOUT = 3.0

_log = logging.getLogger("agentcore_nb.tracing")


#: Whether OpenTelemetry may load a global provider named by the environment (it does so at the
#: first ``get_tracer_provider``); environment variables are the process's start-up configuration.
_ENV_PROVIDER = OTEL_PYTHON_TRACER_PROVIDER in os.environ
_UNKNOWN = object()


def user_provider() -> trace.TracerProvider | None:
    """The global provider when the user configured one (anything but OpenTelemetry's proxy).

    Asked at every span start, so it reads the API's global first: ``get_tracer_provider`` looks
    the environment up each time no provider is set (about 0.8 µs, a fifth of a light span)."""
    provider = getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)
    if provider is None and not _ENV_PROVIDER:
        return None
    if provider is None or provider is _UNKNOWN:
        provider = trace.get_tracer_provider()
    return None if isinstance(provider, ProxyTracerProvider) else provider  # type: ignore[return-value]


class SwitchingTracer(trace.Tracer):
    """A tracer that starts each span on the user's provider if there is one, else on ours."""

    def __init__(self, name: str, version: str | None, fallback: trace.TracerProvider | None) -> None:
        self._name, self._version = name, version
        self._fallback = fallback
        self._cache: dict[int, trace.Tracer] = {}

    def target(self) -> trace.Tracer:
        provider = user_provider() or self._fallback or _default_fallback() or trace.get_tracer_provider()
        key = id(provider)
        tracer = self._cache.get(key)
        if tracer is None:
            tracer = self._cache[key] = provider.get_tracer(self._name, self._version)
        return tracer

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> trace.Span:
        return self.target().start_span(name, *args, **kwargs)

    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.target().start_as_current_span(name, *args, **kwargs)


class SwitchingTracerProvider(trace.TracerProvider):
    """Gives :class:`SwitchingTracer` s that fall back to ``fallback`` (the project's provider)."""

    def __init__(self, fallback: trace.TracerProvider | None = None) -> None:
        self.fallback = fallback

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   *args: Any, **kwargs: Any) -> trace.Tracer:  # fmt: skip
        return SwitchingTracer(instrumenting_module_name, instrumenting_library_version, self.fallback)


def tracer(name: str) -> trace.Tracer:
    """A tracer for a component: the user's SDK if configured, else the last opened project's store."""
    return SwitchingTracer(name, __version__, None)


# -- OTLP ----------------------------------------------------------------------------------------------
class _QuietOtlp(SpanExporter):
    """The OTLP/HTTP exporter, bounded in time, saying once (one line) when the endpoint fails."""

    def __init__(self, endpoint: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        self.endpoint = url
        self.inner = OTLPSpanExporter(endpoint=url, timeout=OTLP_TIMEOUT)
        self.warned = False
        for name in ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                     "opentelemetry.exporter.otlp.proto.http", "opentelemetry.sdk.trace.export"):  # fmt: skip
            logging.getLogger(name).addFilter(_drop_export_noise)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        _quiet.on = True
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            result = SpanExportResult.FAILURE
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "the endpoint did not accept the spans"
        finally:
            _quiet.on = False
        if result is not SpanExportResult.SUCCESS and not self.warned:
            self.warned = True
            print(
                f"agentcore: warning: OTLP export to {self.endpoint} failed ({reason}); "
                "spans are still in the project's trace store",
                file=sys.stderr,
            )
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_quiet = threading.local()


def _drop_export_noise(record: logging.LogRecord) -> bool:
    """Drop the exporter's own log lines while our exporter runs (we print one line instead)."""
    return not getattr(_quiet, "on", False)


def _otlp_exporter() -> _QuietOtlp | None:
    """The OTLP exporter when ``OTEL_EXPORTER_OTLP_ENDPOINT`` asks for one and it is installed."""
    endpoint = os.environ.get(OTLP_ENV, "").strip()
    if not endpoint:
        return None
    try:
        return _QuietOtlp(endpoint)
    except ImportError:
        print(
            f"agentcore: warning: {OTLP_ENV} is set but opentelemetry-exporter-otlp-proto-http "
            "is not installed; spans stay in the project's trace store",
            file=sys.stderr,
        )
        return None


# -- the project's provider ---------------------------------------------------------------------------
class ProjectTracing:
    """The project's private provider with the span store: light spans (``lightspan.py``) written
    straight to the store; with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, the SDK's provider instead,
    whose processors write the store and export over OTLP."""

    def __init__(self, db: Database) -> None:
        self.store = SpanStore(db)
        self.processor = StoreSpanProcessor(self.store)
        self.otlp: BatchSpanProcessor | None = None
        self.provider: trace.TracerProvider
        exporter = _otlp_exporter()
        if exporter is None:
            self.provider = LightTracerProvider(self.processor)
        else:
            sdk = TracerProvider(
                resource=Resource.create({"service.name": "agentcore-nb", "service.version": __version__}),
                shutdown_on_exit=False,
            )
            sdk.add_span_processor(self.processor)
            self.otlp = BatchSpanProcessor(exporter, schedule_delay_millis=500)
            sdk.add_span_processor(self.otlp)
            self.provider = sdk
        self.switching = SwitchingTracerProvider(self.provider)
        _set_default_fallback(self.provider)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every finished span is in the store (not for OTLP)."""
        return self.processor.force_flush(int(timeout * 1000))

    def close(self) -> None:
        self.processor.shutdown()
        if self.otlp is not None:
            self.otlp.shutdown()
        _clear_default_fallback(self.provider)


@contextmanager
def tracing_for(path: str | Path) -> Iterator[ProjectTracing]:
    """The span store of the database at ``path`` for the length of a block (CLI commands)."""
    db = Database.open(path)
    tracing = ProjectTracing(db)
    try:
        yield tracing
    finally:
        tracing.close()
        db.close()


_fallback_lock = threading.Lock()
_fallbacks: list[trace.TracerProvider] = []


def _default_fallback() -> trace.TracerProvider | None:
    return _fallbacks[-1] if _fallbacks else None


def _set_default_fallback(provider: trace.TracerProvider) -> None:
    with _fallback_lock:
        _fallbacks.append(provider)


def _clear_default_fallback(provider: trace.TracerProvider) -> None:
    with _fallback_lock:
        if provider in _fallbacks:
            _fallbacks.remove(provider)
