"""Vector blocks in DuckDB: one BLOB per ``add_many``, written before the events that point at it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .embedders import Embedder, embed_batches
from .schema import Adds


def write_block(db: Any, dim: int, vectors: np.ndarray) -> int:
    """Store vectors as one block (committed) and return its id."""
    with db.lock:
        cur = db.cursor()
        block = int(cur.execute("SELECT coalesce(max(block), -1) + 1 FROM memory_vectors").fetchall()[0][0])
        cur.execute("INSERT INTO memory_vectors VALUES (?, ?, ?)", [block, dim, vectors.tobytes()])
    return block


def read_blocks(db: Any, dim: int, ids: Iterable[int]) -> dict[int, np.ndarray]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = db.execute(
        "SELECT block, dim, data FROM memory_vectors WHERE block IN (" + ",".join("?" * len(wanted)) + ")",
        wanted,
    )
    return {b: np.frombuffer(data, dtype=np.float32).reshape(-1, d) for b, d, data in rows if d == dim}


def embed_all(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Every text embedded, in batches (one ``embeddings`` span per batch)."""
    return embed_batches(embedder, texts)


def vectors_for(db: Any, dim: int, embedder: Embedder, adds: Adds) -> np.ndarray:
    """Vectors of replayed adds: from their blocks, or embedded again (then stored as a block)."""
    out = np.zeros((len(adds), dim), dtype=np.float32)
    blocks = read_blocks(db, dim, (b for b in adds.block if b >= 0))
    missing: list[int] = []
    for i, (b, p) in enumerate(zip(adds.block, adds.pos, strict=True)):
        if b in blocks:
            out[i] = blocks[b][p]
        else:
            missing.append(i)
    if missing:
        fresh = embed_all(embedder, [adds.texts[i] for i in missing])
        out[missing] = fresh
        block = write_block(db, dim, fresh)
        for pos, i in enumerate(missing):
            adds.block[i], adds.pos[i] = block, pos
    return out


def vectors_of_labels(db: Any, dim: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, vectors) of the records with labels in ``[lo, hi)``, from their blocks."""
    rows = db.execute(
        "SELECT label, block, pos FROM memory_records WHERE label >= ? AND label < ? ORDER BY label", [lo, hi]
    )
    blocks = read_blocks(db, dim, (r[1] for r in rows))
    labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return labels, np.zeros((0, dim), dtype=np.float32)
    return labels, np.stack([blocks[b][p] for _, b, p in rows]).astype(np.float32)


def reembed(db: Any, embedder: Embedder) -> None:
    """Embed every record again with ``embedder`` (new blocks) and record it as the store's."""
    rows = db.execute("SELECT label, text FROM memory_records ORDER BY label")
    step = 20_000
    for lo in range(0, len(rows), step):
        chunk = rows[lo : lo + step]
        block = write_block(db, embedder.dim, embed_all(embedder, [r[1] for r in chunk]))
        with db.lock:
            db.con.execute(
                "UPDATE memory_records SET block = ?, pos = label - ? WHERE label >= ? AND label < ?",
                [block, chunk[0][0], chunk[0][0], chunk[-1][0] + 1],
            )
    with db.lock:
        cur = db.cursor()
        cur.execute("DELETE FROM memory_meta WHERE key = 'calibration'")  # measured on other vectors
        for key, value in (("embedder", embedder.name), ("dim", embedder.dim)):
            cur.execute("INSERT OR REPLACE INTO memory_meta VALUES (?, ?)", [key, str(value)])
