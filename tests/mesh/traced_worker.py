"""``agentcore`` with an OpenTelemetry SDK that writes finished spans as JSON lines to $SPANS_FILE.

A worker process started through this script records its spans where the test can read them.
"""

from __future__ import annotations

import os
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

out = open(os.environ["SPANS_FILE"], "a", buffering=1)  # noqa: SIM115 - open for the process's life
provider = TracerProvider()
provider.add_span_processor(
    SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n"))
)
trace.set_tracer_provider(provider)

from agentcore_nb.cli import main  # noqa: E402

sys.argv = ["agentcore", *sys.argv[1:]]
main()
