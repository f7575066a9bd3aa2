"""Search effort chosen from the index's size and a recall target: a small store (the model) and a
larger one (calibrated on its own data in the background) both meet the target against exact
search; per-store and per-query targets, an ef override, and bad values."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agentcore_nb.memory import Memory, MemoryStoreError, calibration, effort
from agentcore_nb.memory.effort import model_ef, wilson_lower

DIM = 384


def clustered(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Like the benchmark's data: points and fresh queries around shared centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(n // 250, 4), DIM)).astype(np.float32)

    def draw(m: int) -> np.ndarray:
        x = centres[rng.integers(0, len(centres), m)] + 0.35 * rng.normal(size=(m, DIM)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return draw(n), draw(queries)


def recall_at_10(m: Memory, data: np.ndarray, queries: np.ndarray, labels: list[str], **kw) -> float:
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    hits = 0
    for q, row in zip(queries, truth, strict=True):
        found = {h.record.id for h in m.search(q, k=10, **kw)}
        hits += len(found & {labels[i] for i in row})
    return hits / (10 * len(queries))


@pytest.mark.parametrize(("n", "source"), [(800, "model"), (20_000, "calibrated")])
def test_small_and_larger_store_meet_the_recall_target(agentcore_home, n, source):
    data, queries = clustered(n, 200, seed=n)
    m = Memory.open(agentcore_home)
    try:
        ids = [r.id for r in m.add_many([f"r{i}" for i in range(n)], vectors=data)]
        m.flush()  # the background calibration (from 1,000 records)
        effort = m.effort()
        assert effort["source"] == source and effort["recall_target"] == 0.99
        assert recall_at_10(m, data, queries, ids) >= 0.99
        if source == "calibrated":
            assert effort["measured_recall"] >= 0.99 and effort["calibrated_records"] == n
            assert recall_at_10(m, data, queries, ids, ef=10) < 0.99  # effort matters at this size
    finally:
        m.close()


def test_a_calibration_is_kept_and_a_store_that_doubles_is_calibrated_again(agentcore_home):
    data, _ = clustered(2400, 1, seed=3)
    m = Memory.open(agentcore_home)
    m.add_many([f"r{i}" for i in range(1200)], vectors=data[:1200])
    m.flush()
    assert m.effort()["calibrated_records"] == 1200
    m.close()
    m = Memory.open(agentcore_home)
    assert m.effort()["calibrated_records"] == 1200  # kept in the store
    m.add_many([f"s{i}" for i in range(1200)], vectors=data[1200:])
    m.flush()
    assert m.effort()["calibrated_records"] == 2400
    m.close()


def test_a_bulk_ingest_is_calibrated_once_when_writes_pause(agentcore_home, monkeypatch):
    runs: list[int] = []
    real = calibration.calibrate
    monkeypatch.setattr(
        calibration, "calibrate", lambda index, *a, **kw: runs.append(index.count) or real(index, *a, **kw)
    )
    monkeypatch.setattr(effort, "QUIET_S", 3600.0)  # writes never pause long enough
    data, _ = clustered(4000, 1, seed=5)
    m = Memory.open(agentcore_home)
    try:
        for lo in range(0, 3600, 1200):  # 1,200 then two doublings: each would have calibrated
            m.add_many([f"r{i}" for i in range(lo, lo + 1200)], vectors=data[lo : lo + 1200])
        assert runs == [] and m.effort()["source"] == "model"
        monkeypatch.setattr(effort, "QUIET_S", 0.0)
        m.add_many([f"r{i}" for i in range(3600, 4000)], vectors=data[3600:])  # its end wakes the waiting run
        m.flush()
        assert runs == [4000] and m.effort()["calibrated_records"] == 4000
    finally:
        m.close()


def test_closing_a_store_does_not_wait_for_writes_to_pause(agentcore_home, monkeypatch):
    monkeypatch.setattr(effort, "QUIET_S", 3600.0)
    data, _ = clustered(1200, 1, seed=6)
    m = Memory.open(agentcore_home)
    m.add_many([f"r{i}" for i in range(1200)], vectors=data)  # a calibration is due, waiting
    closer = threading.Thread(target=m.close)
    closer.start()
    closer.join(timeout=120)
    assert not closer.is_alive()
    again = Memory.open(agentcore_home)
    assert again.stats()["live"] == 1200
    again.close()


def test_recall_targets_per_store_and_per_query(agentcore_home):
    m = Memory.open(agentcore_home, recall=0.995)
    m.add("a note", namespace="t")
    base = m.effort()
    assert base["recall_target"] == 0.995
    assert m.effort(recall=0.999)["ef"] > base["ef"] > m.effort(recall=0.9)["ef"]
    assert [h.record.text for h in m.search("a note", k=1, recall=0.999)] == ["a note"]
    assert [h.record.text for h in m.search("a note", k=1, ef=500)] == ["a note"]
    m.close()
    again = Memory.open(agentcore_home)
    assert again.recall_target == 0.995
    again.close()


def test_the_model_grows_with_size_and_target():
    assert model_ef(1_000, 0.99) < model_ef(100_000, 0.99) < model_ef(1_000_000, 0.99)
    assert model_ef(100_000, 0.99) < model_ef(100_000, 0.999)
    assert wilson_lower(2990, 3000) < 2990 / 3000


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"recall": 1.0}, r"recall must be a number in \[0.5, 1\)"),
        ({"recall": "high"}, "recall must be a number"),
        ({"recall": True}, "recall must be a number"),
        ({"ef": 0}, "ef must be an integer from 1 to 100000"),
        ({"ef": 2.5}, "ef must be an integer"),
    ],
)
def test_bad_effort_values_are_one_clear_error(agentcore_home, kw, message):
    m = Memory.open(agentcore_home)
    try:
        m.add("a note")
        with pytest.raises(MemoryStoreError, match=message):
            m.search("a note", **kw)
    finally:
        m.close()
    with pytest.raises(MemoryStoreError, match="recall must be"):
        Memory.open(agentcore_home, recall=2)
