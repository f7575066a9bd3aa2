"""Span cost: one span of the project's own tracing, OpenTelemetry SDK spans vs the light spans.

Both sides are the project's tracing with no user SDK: the switching tracer in front of
  sdk    the SDK's TracerProvider (with the project's resource) + the store's StoreSpanProcessor
         (what ``ProjectTracing`` used before light spans, and still uses with OTLP export on)
  light  ``LightTracerProvider`` ending into the same StoreSpanProcessor (what it uses now)
each writing into its own DuckDB file. One measurement: N child spans (start + end, 6 attributes,
the parent given as a context, as the scheduler starts node spans) under one root, then a flush
(every span committed). Figures, as medians over alternating repeats (the machine is shared, so
CPU time, not wall time):
  *_hot_us    CPU of the calling thread per span (``time.thread_time``): what a cell or request pays
  *_total_us  CPU of the whole process per span (``time.process_time``: the writer thread's
              conversion and DuckDB insert included)
  total_ratio light over sdk (lower is better)

Usage: .venv/bin/python bench/span_cost.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from agentcore_nb.db import Database
from agentcore_nb.observability import conventions as conv
from agentcore_nb.observability.lightspan import LightTracerProvider
from agentcore_nb.observability.store import SpanStore, StoreSpanProcessor
from agentcore_nb.observability.tracing import SwitchingTracerProvider

ATTRS: dict[str, Any] = {
    conv.OPERATION: conv.EXECUTE_NODE,
    conv.NODE_NAME: "step",
    conv.NODE_KIND: "python",
    conv.NODE_ID: "n-0123456789abcdef",
    conv.ATTEMPT: 1,
    conv.CELL_ID: "cell-42",
}


class Side:
    def __init__(self, name: str, root: Path) -> None:
        self.db = Database.open(root / f"{name}.duckdb")
        self.processor = StoreSpanProcessor(SpanStore(self.db))
        provider: trace.TracerProvider
        if name == "sdk":
            sdk = TracerProvider(
                resource=Resource.create({"service.name": "agentcore-nb"}), shutdown_on_exit=False
            )
            sdk.add_span_processor(self.processor)
            provider = sdk
        else:
            provider = LightTracerProvider(self.processor)
        self.tracer = SwitchingTracerProvider(provider).get_tracer("bench")

    def measure(self, n: int) -> tuple[float, float]:
        """(hot, total) CPU µs per span for ``n`` spans under one root, flushed."""
        assert self.processor.force_flush(60_000)
        p0, t0 = time.process_time(), time.thread_time()
        root = self.tracer.start_span(
            conv.span_name(conv.INVOKE_WORKFLOW, "bench"), attributes={conv.RUN_ID: "r"}
        )
        parent = trace.set_span_in_context(root)
        tracer = self.tracer
        for _ in range(n):
            tracer.start_span("execute_node step", context=parent, attributes=ATTRS).end()
        root.end()
        hot = time.thread_time() - t0
        assert self.processor.force_flush(60_000)
        total = time.process_time() - p0
        return hot / (n + 1) * 1e6, total / (n + 1) * 1e6

    def close(self) -> None:
        self.processor.shutdown()
        assert not self.processor.error, self.processor.error
        self.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, repeats = (5_000, 5) if args.quick else (20_000, 9)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {name: Side(name, Path(tmp)) for name in ("sdk", "light")}
        for side in sides.values():  # warm up: imports, the first DuckDB write
            side.measure(500)
        got: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for i in range(repeats):
            order = ("sdk", "light") if i % 2 == 0 else ("light", "sdk")
            for name in order:
                got[name].append(sides[name].measure(n))
        stored = {
            name: side.processor.store._query("SELECT count(*) FROM spans", [])[0][0]
            for name, side in sides.items()
        }
        for side in sides.values():
            side.close()

    def med(name: str, i: int) -> float:
        return round(statistics.median(x[i] for x in got[name]), 2)

    figures: dict[str, Any] = {
        "benchmark": "span_cost",
        "quick": args.quick,
        "spans_per_measure": n + 1,
        "repeats": repeats,
        "attributes": len(ATTRS),
        "sdk_hot_us": med("sdk", 0),
        "light_hot_us": med("light", 0),
        "sdk_total_us": med("sdk", 1),
        "light_total_us": med("light", 1),
    }
    figures["hot_ratio"] = round(figures["light_hot_us"] / figures["sdk_hot_us"], 3)
    figures["total_ratio"] = round(figures["light_total_us"] / figures["sdk_total_us"], 3)
    figures["stored_rows"] = stored
    print(f"sdk:   {figures['sdk_hot_us']} us/span on the caller, {figures['sdk_total_us']} us/span in all")
    print(
        f"light: {figures['light_hot_us']} us/span on the caller, {figures['light_total_us']} us/span in all"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
