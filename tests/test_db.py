"""Damaged database files of every kind (empty, garbage, truncated, a bad block, a torn or damaged
write-ahead log) give one line that names the file and what to do: from the CLI (``runs``,
``events``, ``resume``), ``Memory.open`` and the project's services. The file is never touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from agentcore_nb import Graph
from agentcore_nb.db import Database
from agentcore_nb.errors import DatabaseDamagedError
from agentcore_nb.memory import Memory
from agentcore_nb.project import Project

BLOCK = 262144
HEADERS = 3 * 4096


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real project file: a few runs and memories, closed cleanly (so no WAL)."""
    home = tmp_path_factory.mktemp("pristine")
    with Project(home) as project:
        g = Graph("damage")
        g.node("a", config={"code": "x = 'a' * 1000\nx"})
        g.node("b", config={"code": "y = x * 2\nlen(y)"}, after=["a"])
        run_id = project.runtime().run(g).raise_for_status().run_id
        for i in range(5):
            project.runtime().run(g)
        memory = project.services["memory"]
        memory.add_many([f"record {i} " + "words " * 50 for i in range(3000)], namespace="big")
    size = (home / "agentcore.duckdb").stat().st_size
    assert size >= HEADERS + 3 * BLOCK, size  # several blocks, so a cut can land on each kind
    return home / "agentcore.duckdb", run_id


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode != 0, out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in out.stderr
    return lines[0]


def _flip(path: Path, offset: int, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    for i in range(count):
        data[offset + i] ^= 0x5A
    path.write_bytes(bytes(data))


def _damage(kind: str, db: Path) -> str:
    """Damage the copied file; returns what the message must say."""
    size = db.stat().st_size
    if kind == "empty":
        db.write_bytes(b"")
        return "(empty (0 bytes))"
    if kind == "garbage":
        db.write_bytes(os.urandom(size))
        return "(not a DuckDB file)"
    if kind.startswith("truncated"):
        cut = {
            "truncated-headers": 8192,
            "truncated-first-block": HEADERS,
            "truncated-mid": HEADERS + BLOCK + 1000,
            "truncated-last-bytes": size - 1000,
        }[kind]
        os.truncate(db, cut)
        return "(truncated: "
    if kind == "bad-block":
        _flip(db, HEADERS + 100)
        return "(damaged: checksum mismatch in block at byte"
    raise AssertionError(kind)


KINDS = [
    "empty",
    "garbage",
    "truncated-headers",
    "truncated-first-block",
    "truncated-mid",
    "truncated-last-bytes",
    "bad-block",
]


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_database_is_one_line_everywhere(
    kind: str, pristine: tuple[Path, str], agentcore_home: Path, subprocess_env: dict[str, str]
) -> None:
    source, run_id = pristine
    db = agentcore_home / "agentcore.duckdb"
    shutil.copy(source, db)
    said = _damage(kind, db)
    before = db.read_bytes()
    for args in (["runs"], ["events", run_id], ["resume", run_id]):
        line = _one_line(_cli(*args, env=subprocess_env))
        assert f"error: {db} is not a readable DuckDB database {said}" in line, line
        assert "move it away to start a fresh store, or restore it from a backup" in line
    with pytest.raises(DatabaseDamagedError) as err:
        Memory.open(agentcore_home)
    assert str(db) in str(err.value) and "\n" not in str(err.value)
    with Project(agentcore_home) as project, pytest.raises(DatabaseDamagedError):
        project.services["memory"]
    assert db.read_bytes() == before  # nothing wrote to the damaged file


def _kill_with_wal(home: Path) -> Path:
    """A writer that dies before its checkpoint: the last commits are only in the WAL."""
    code = (
        "import os, duckdb\n"
        f"con = duckdb.connect({str(home / 'agentcore.duckdb')!r})\n"
        "con.execute('CREATE TABLE IF NOT EXISTS filler (i INTEGER, t VARCHAR)')\n"
        "con.execute('CHECKPOINT')\n"
        "for k in range(20):\n"
        "    con.execute(\"INSERT INTO filler SELECT range, repeat('w', 100) FROM range(1000)\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    wal = home / "agentcore.duckdb.wal"
    assert wal.stat().st_size > 100_000
    return wal


def _runs(stdout: str) -> list[dict]:
    """The runs ``agentcore runs --json`` lists, less the per-process ``adhoc`` runs that hold events
    written outside any run (the killed writer's own)."""
    return [r for r in map(json.loads, stdout.splitlines()) if r.get("kind") != "adhoc"]


def test_a_torn_wal_opens_at_its_last_whole_commit(
    pristine: tuple[Path, str], agentcore_home: Path, subprocess_env: dict[str, str]
) -> None:
    shutil.copy(pristine[0], agentcore_home / "agentcore.duckdb")
    wal = _kill_with_wal(agentcore_home)
    os.truncate(wal, wal.stat().st_size // 2)  # the tail of the log is torn off
    out = _cli("runs", "--json", env=subprocess_env)
    assert out.returncode == 0, out.stderr
    assert len(_runs(out.stdout)) == 6
    db = Database.open(agentcore_home / "agentcore.duckdb")
    try:
        (rows,) = db.execute("SELECT count(*) FROM filler")[0]
        assert 0 < rows < 20_000 and rows % 1000 == 0  # a prefix of whole commits
    finally:
        db.close()


def test_a_damaged_wal_is_one_line_naming_the_wal(
    pristine: tuple[Path, str], agentcore_home: Path, subprocess_env: dict[str, str]
) -> None:
    db = agentcore_home / "agentcore.duckdb"
    shutil.copy(pristine[0], db)
    wal = _kill_with_wal(agentcore_home)
    _flip(wal, wal.stat().st_size // 2)
    before = wal.read_bytes()
    for args in (["runs"], ["events", pristine[1]], ["resume", pristine[1]]):
        line = _one_line(_cli(*args, env=subprocess_env))
        assert f"error: {wal} is not a readable DuckDB write-ahead log (damaged: checksum mismatch" in line
        assert "move it away to open agentcore.duckdb as of its last checkpoint" in line
    with pytest.raises(DatabaseDamagedError, match=r"write-ahead log"):
        Memory.open(agentcore_home)
    assert wal.read_bytes() == before
    # doing what the message says opens the store as of its checkpoint
    wal.rename(agentcore_home / "agentcore.duckdb.wal.damaged")
    out = _cli("runs", "--json", env=subprocess_env)
    assert out.returncode == 0 and len(_runs(out.stdout)) == 6


def test_a_healthy_file_whose_free_tail_was_trimmed_still_opens(tmp_path: Path) -> None:
    """DuckDB trims free blocks off the end: the size check counts used blocks only."""
    path = tmp_path / "trimmed.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE keep AS SELECT range AS i FROM range(10)")
    con.execute("CREATE TABLE big AS SELECT range AS i, repeat('z', 200) AS t FROM range(300000)")
    con.execute("CHECKPOINT")
    con.execute("DROP TABLE big")
    con.execute("CHECKPOINT")
    con.close()
    db = Database.open(path)
    try:
        assert db.execute("SELECT count(*) FROM keep") == [(10,)]
    finally:
        db.close()
