"""Opening the index: load the saved one if it is whole and reflects this store's history, top it
up with the records added since, or rebuild it; the log says which and how many records it indexed."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .index import VectorIndex
from .provenance import mistrust
from .schema import PROGRESS_MIN, progress
from .vectors import vectors_of_labels

log = logging.getLogger("agentcore_nb.memory")
_STEP = 25_000


@dataclass
class IndexOpening:
    """What opening the index did: ``loaded`` as saved, ``topped-up`` or ``rebuilt`` (and why)."""

    action: str
    applied: int  # records indexed on open
    records: int
    reason: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fill(index: VectorIndex, db: Any, dim: int, start: int, total: int) -> None:
    """Index the records with labels ``[start, total)`` from their stored vectors."""
    with progress(total - start, "memory: indexing") as bar:
        for lo in range(start, total, _STEP):
            labels, vectors = vectors_of_labels(db, dim, lo, lo + _STEP)
            index.add(vectors, labels)
            bar.update(len(labels))


def index_all(index: VectorIndex, vectors: np.ndarray, labels: np.ndarray) -> None:
    """Add a batch to the index, with a progress bar (in steps) when it is long."""
    if len(labels) < PROGRESS_MIN:
        index.add(vectors, labels)
        return
    index.reserve(index.count + len(labels))  # one resize, not one per step
    with progress(len(labels), "memory: indexing") as bar:
        for lo in range(0, len(labels), _STEP):
            index.add(vectors[lo : lo + _STEP], labels[lo : lo + _STEP])
            bar.update(len(labels[lo : lo + _STEP]))


def open_index(db: Any, dim: int, path: Path, *, store_id: str, embedder: str,
               trust_file: bool = True) -> tuple[VectorIndex, IndexOpening]:  # fmt: skip
    t0 = time.perf_counter()
    total = int(db.execute("SELECT count(*) FROM memory_records")[0][0])
    index: VectorIndex | None = None
    side: dict[str, Any] = {}
    why = "a rebuild was asked for"
    if trust_file:
        index, side, why = VectorIndex.load(path, dim)
        if index is not None:
            why = mistrust(side, db=db, store_id=store_id, embedder=embedder)
            if why:
                index = None
    if index is None:
        index = VectorIndex(dim, capacity=max(total, 1024))
        action = "rebuilt"
    else:
        action = "topped-up" if index.count < total else "loaded"
    start = index.count
    if start < total:
        fill(index, db, dim, start, total)
    for (label,) in db.execute("SELECT label FROM memory_records WHERE tombstone"):
        index.delete(label)
    opening = IndexOpening(action, total - start, total, why, round(time.perf_counter() - t0, 3))
    if action == "loaded":
        log.info("memory index: loaded %d records (saved at event %s)", total, side.get("seq"))
    elif action == "topped-up":
        log.info("memory index: loaded the checkpoint at event %s (%d records), topped up %d records in %.2fs",
                 side.get("seq"), start, total - start, opening.seconds)  # fmt: skip
    elif total:
        log.warning("memory index: rebuilt, %d records indexed in %.2fs: %s", total, opening.seconds, why)
    return index, opening
