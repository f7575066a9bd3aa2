"""The index belongs to its store and its history: a restored database, a diverged history or another
store's index beside it is detected and repaired on open, and every record is found afterwards."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from agentcore_nb.memory import Memory
from agentcore_nb.memory.index import sidecar
from agentcore_nb.memory.store import INDEX_FILE

DB = "agentcore.duckdb"


def vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def add(m: Memory, n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    vecs = vectors(n, seed)
    records = m.add_many([f"record {seed}-{i}" for i in range(n)], namespace="t", vectors=vecs)
    return [(r.id, v) for r, v in zip(records, vecs, strict=True)]


def all_found(m: Memory, added: list[tuple[str, np.ndarray]]) -> bool:
    missing = [rid for rid, v in added if [h.record.id for h in m.search(v, k=1)] != [rid]]
    assert not missing, f"{len(missing)} of {len(added)} records not found by search"
    return True


def copy_db(src_home, dst) -> None:
    dst.mkdir(exist_ok=True)
    for p in src_home.iterdir():
        if p.name.startswith(DB):
            shutil.copy2(p, dst / p.name)


def restore_db(backup, home) -> None:
    for p in home.iterdir():
        if p.name.startswith(DB):
            p.unlink()
    for p in backup.iterdir():
        shutil.copy2(p, home / p.name)


def save_index_copy(home, dst) -> None:
    dst.mkdir(exist_ok=True)
    for p in (home / INDEX_FILE, sidecar(home / INDEX_FILE)):
        shutil.copy2(p, dst / p.name)


def put_index_back(src, home) -> None:
    for p in src.iterdir():
        shutil.copy2(p, home / p.name)


def test_an_older_database_restored_beside_a_newer_index(agentcore_home, tmp_path):
    m = Memory.open(agentcore_home)
    first = add(m, 300, seed=1)
    m.close()
    copy_db(agentcore_home, tmp_path / "backup")
    m = Memory.open(agentcore_home)
    add(m, 200, seed=2)  # in the index, not in the backup
    m.close()
    restore_db(tmp_path / "backup", agentcore_home)
    m = Memory.open(agentcore_home)
    assert m.index_opening.action == "rebuilt"
    assert "does not have" in m.index_opening.reason
    later = add(m, 200, seed=3)  # the labels the lost records had
    assert m.stats()["live"] == 500
    assert all_found(m, first + later)
    m.close()
    again = Memory.open(agentcore_home)
    assert again.index_opening.action == "loaded"
    assert all_found(again, first + later)
    again.close()


def test_a_history_that_diverged_after_a_restore(agentcore_home, tmp_path):
    """Same store, same event numbers, same record count: only the history's hash tells them apart."""
    m = Memory.open(agentcore_home)
    first = add(m, 300, seed=1)
    m.close()
    copy_db(agentcore_home, tmp_path / "backup")
    m = Memory.open(agentcore_home)
    add(m, 200, seed=2)
    m.close()
    save_index_copy(agentcore_home, tmp_path / "index-of-the-lost-branch")
    restore_db(tmp_path / "backup", agentcore_home)
    m = Memory.open(agentcore_home)
    other = add(m, 200, seed=3)
    m.close()
    put_index_back(tmp_path / "index-of-the-lost-branch", agentcore_home)
    m = Memory.open(agentcore_home)
    assert m.index_opening.action == "rebuilt"
    assert "does not have" in m.index_opening.reason
    assert all_found(m, first + other)
    m.close()


def test_another_stores_index_copied_in(agentcore_home, tmp_path):
    theirs = tmp_path / "their-store"
    t = Memory.open(theirs)
    add(t, 400, seed=7)
    t.close()
    m = Memory.open(agentcore_home)
    ours = add(m, 400, seed=8)  # the same count, embedder and dimension
    m.close()
    put_index_back_from = tmp_path / "their-index"
    save_index_copy(theirs, put_index_back_from)
    put_index_back(put_index_back_from, agentcore_home)
    m = Memory.open(agentcore_home)
    assert m.index_opening.action == "rebuilt"
    assert "belongs to another store" in m.index_opening.reason
    assert all_found(m, ours)
    m.close()


def test_a_restored_database_with_a_forget_the_index_saw(agentcore_home, tmp_path):
    """A forget after the backup must not hide the record once the backup is restored."""
    m = Memory.open(agentcore_home)
    added = add(m, 100, seed=4)
    m.close()
    copy_db(agentcore_home, tmp_path / "backup")
    m = Memory.open(agentcore_home)
    m.forget(added[0][0])
    m.close()
    restore_db(tmp_path / "backup", agentcore_home)
    m = Memory.open(agentcore_home)
    assert m.index_opening.action == "rebuilt"
    assert all_found(m, added)
    m.close()


def test_an_index_behind_its_database_is_topped_up_not_rebuilt(agentcore_home, tmp_path, caplog):
    m = Memory.open(agentcore_home)
    first = add(m, 300, seed=5)
    m.close()
    save_index_copy(agentcore_home, tmp_path / "older-index")
    m = Memory.open(agentcore_home)
    second = add(m, 120, seed=6)
    m.forget(first[0][0])
    m.close()
    put_index_back(tmp_path / "older-index", agentcore_home)
    with caplog.at_level("INFO", logger="agentcore_nb.memory"):
        m = Memory.open(agentcore_home)
    assert (m.index_opening.action, m.index_opening.applied) == ("topped-up", 120)
    assert "topped up 120 records" in caplog.text
    assert first[0][0] not in [h.record.id for h in m.search(first[0][1], k=5)]
    assert all_found(m, first[1:] + second)
    m.close()


@pytest.mark.parametrize("field", ["store_id", "seq", "hash"])
def test_a_sidecar_edited_by_hand_is_not_trusted(agentcore_home, field):
    import json

    m = Memory.open(agentcore_home)
    added = add(m, 50, seed=9)
    m.close()
    side_path = sidecar(agentcore_home / INDEX_FILE)
    side = json.loads(side_path.read_text())
    side[field] = {"store_id": "0" * 32, "seq": side["seq"] + 1, "hash": "f" * 64}[field]
    side_path.write_text(json.dumps(side))
    m = Memory.open(agentcore_home)
    assert m.index_opening.action == "rebuilt"
    assert all_found(m, added)
    m.close()
