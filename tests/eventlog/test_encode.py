"""The log writer's orjson encoding stores what ``Event.to_json`` stores (or falls back to it)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agentcore_nb.eventlog.duckdb import DuckDBEventLog, encode, row
from agentcore_nb.events import RunExecuted, RunProvisioned


@dataclasses.dataclass
class Point:
    x: int


class Tag(str):
    pass


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


VALUES = [
    {"message": "hello", "n": 1, "f": 1.5e-7, "ok": True, "nested": [[], {}, [1, [2]]]},
    "ünïcödé ✓",
    (1, 2, ("a", "b")),
    float("nan"),
    [float("inf"), -float("inf")],
    None,
    {"a": None},
    {1: "int key", 2.5: "float key"},
    {"s": {3, 1, 2}},
    np.float64(2.5),
    np.int64(7),
    2**70,
    "lone \udcff surrogate",
    datetime.datetime(2026, 12, 7, 22, 0, 0),
    Point(3),
    Tag("sub"),
    {"nul": "text with null inside"},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_encode_reads_back_as_to_json(value: Any) -> None:
    event = RunExecuted(run_id="r1", output=value)
    assert _same(json.loads(encode(event)), json.loads(event.to_json()))


def test_non_finite_floats_keep_to_json_encoding() -> None:
    event = RunExecuted(run_id="r1", output=[float("nan"), 1.0])
    assert encode(event) == event.to_json()  # NaN, not orjson's null


def test_big_batch_round_trips_through_the_log(tmp_path: Path) -> None:
    """200+ events (the NumPy object-array insert) read back equal, in order, with their columns."""
    log = DuckDBEventLog(tmp_path / "log.duckdb")
    sent = []
    try:
        for i in range(150):
            sent.append(
                log.append(RunProvisioned(run_id=f"r{i}", session_id="s" if i % 2 else "", input={"i": i}))
            )
            sent.append(log.append(RunExecuted(run_id=f"r{i}", node_id="n", output=VALUES[i % len(VALUES)])))
        got = log.events()
        assert [e.seq for e in got] == [e.seq for e in sent]
        for a, b in zip(got, sent, strict=True):
            assert (a.type, a.run_id, a.session_id, a.node_id) == (b.type, b.run_id, b.session_id, b.node_id)
        assert _same(got[7].output, json.loads(sent[7].to_json())["output"])
        assert len(log.events(session_id="s")) == 75  # the odd runs' RunProvisioned
    finally:
        log.close()


def test_big_insert_stores_every_column(tmp_path: Path) -> None:
    """The object-array path itself (64+ events in one insert), on a bare table."""
    import duckdb

    from agentcore_nb.eventlog import duckdb as log_module

    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    for ddl in log_module._DDL:
        con.execute(ddl)
    batch = [
        RunExecuted(run_id=f"r{i}", session_id="é" * (i % 3), output={"i": i}, seq=i) for i in range(100)
    ]
    log_module.DuckDBEventLog._insert(con.cursor(), [log_module.row(e) for e in batch])
    rows = con.execute(
        "SELECT seq, run_id, session_id, node_id, type, ts, body FROM events ORDER BY seq"
    ).fetchall()
    assert len(rows) == 100
    for got, e in zip(rows, batch, strict=True):
        assert got[:6] == (e.seq, e.run_id, e.session_id, "", "RunExecuted", e.ts)
        assert json.loads(got[6]) == json.loads(e.to_json())
    con.close()


def test_a_row_is_the_event_encoded_when_appended(tmp_path: Path) -> None:
    """The log stores what the event held when it was appended: a later change to one of its
    values (a node's output mutated downstream) does not reach the stored body."""
    output = {"n": 1}
    log = DuckDBEventLog(tmp_path / "log.duckdb")
    try:
        event = log.append(RunExecuted(run_id="r1", output=output))
        assert row(event) == (event.seq, "r1", "", "", "RunExecuted", event.ts, encode(event))
        output["n"] = 2
        event.error = "changed after the append"
        stored = log.events("r1")[0]
        assert stored.output == {"n": 1} and stored.error == ""
    finally:
        log.close()


def test_an_event_json_cannot_hold_is_stored_with_a_marker_and_the_log_goes_on(tmp_path: Path) -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    log = DuckDBEventLog(tmp_path / "log.duckdb")
    try:
        bad = log.append(RunExecuted(run_id="r1", output=cycle, error="kept"))
        log.append(RunExecuted(run_id="r2", output=1))
        log.flush()
        first, second = log.events()
        assert first.seq == bad.seq and first.error == "kept"
        assert first.output == {"$unencodable": "list: ValueError"}
        assert second.output == 1
    finally:
        log.close()


def test_bodies_encoded_before_numbering_carry_their_seq(tmp_path: Path) -> None:
    """Appends encode outside the sequence lock and put the number in afterwards: from many
    threads, with ids and values that spell ``"seq":`` themselves, every stored body is
    byte for byte what ``encode`` gives for the numbered event."""
    import threading

    import duckdb

    from agentcore_nb.eventlog.duckdb import with_seq

    unnumbered = RunExecuted(seq=-1, output=1)
    assert with_seq(encode(unnumbered), 42) == encode(dataclasses.replace(unnumbered, seq=42))
    path = tmp_path / "log.duckdb"
    log = DuckDBEventLog(path)
    sent: list[RunExecuted] = []

    def appender(k: int) -> None:
        for i in range(100):
            tricky = f'"seq":{k},\\"seq\\":{i},'
            sent.append(
                log.append(RunExecuted(run_id=tricky, node_id=f"{k}/{i}", output={"seq": tricky}, seq=7))
            )

    threads = [threading.Thread(target=appender, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT seq, body FROM events ORDER BY seq").fetchall()
    con.close()
    by_seq = {e.seq: e for e in sent}
    assert [r[0] for r in rows] == sorted(by_seq) == list(range(len(sent)))
    for seq, body in rows:
        assert body == encode(by_seq[seq])
        assert json.loads(body)["seq"] == seq
