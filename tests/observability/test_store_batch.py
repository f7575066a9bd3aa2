"""A big batch of spans (the NumPy object-array insert, orjson columns) reads back as written."""

from __future__ import annotations

from pathlib import Path

from agentcore_nb.db import Database
from agentcore_nb.observability.store import SpanRecord, SpanStore


def _record(i: int) -> SpanRecord:
    return SpanRecord(
        trace_id=f"{i // 10:032x}",
        span_id=f"{i:016x}",
        parent_id="" if i % 10 == 0 else f"{i - i % 10:016x}",
        run_id="run-a" if (i // 10) % 2 else "run-b",  # one run per trace
        name=f"node n{i}",
        start_ns=2**62 + i,
        end_ns=None if i % 7 == 0 else 2**62 + i + 1000,
        status="error" if i % 5 == 0 else "ok",
        status_message="bröken" if i % 5 == 0 else "",
        attributes={
            "agentcore.node_id": f"n{i}",
            "i": i,
            "f": 0.5,
            "ok": True,
            "tags": ["a", "b"],
            "big": 2**70,
        },
        events=[{"name": "exception", "time_ns": 2**62, "attributes": {"exception.message": "ü"}}],
    )


def test_big_batch_round_trips(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "spans.duckdb")
    try:
        store = SpanStore(db)
        written = [_record(i) for i in range(200)]
        store.write(written)
        for run in ("run-a", "run-b"):
            got = sorted(store.spans(run), key=lambda r: r.span_id)
            assert got == [r for r in written if r.run_id == run]
    finally:
        db.close()
