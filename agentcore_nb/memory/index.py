"""The hnswlib (cosine) index beside the DuckDB file, with a sidecar that says what it covers.

The sidecar (``memory.hnsw.json``) records the file's size and CRC, the label count, the embedder,
the store's id and the position in the store's memory history the index reflects (``seq`` and the
chain ``hash`` at that point; see ``provenance.py``). An index whose sidecar disagrees with its file
is never loaded (hnswlib itself does not check a truncated file), and one whose identity or
position is not this store's is never trusted: the caller repairs it.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

M = 16
EF_CONSTRUCTION = 200


def _crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


class VectorIndex:
    def __init__(self, dim: int, *, capacity: int = 1024) -> None:
        self.dim = dim
        self.index = hnswlib.Index(space="cosine", dim=dim)
        self.index.init_index(max_elements=max(capacity, 16), ef_construction=EF_CONSTRUCTION, M=M)
        self.deleted: set[int] = set()

    @property
    def count(self) -> int:
        return int(self.index.get_current_count())

    def reserve(self, need: int) -> None:
        """Room for ``need`` labels (growing at least 2x, so repeated small adds stay cheap)."""
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, 2 * self.index.get_max_elements()))

    def add(self, vectors: np.ndarray, labels: np.ndarray, *, threads: int = -1) -> None:
        self.reserve(self.count + len(labels))
        self.index.add_items(vectors, labels, num_threads=threads)

    def delete(self, label: int) -> None:
        if int(label) in self.deleted:
            return
        try:
            self.index.mark_deleted(int(label))
        except RuntimeError as exc:
            if "already" not in str(exc):
                return  # never indexed
        self.deleted.add(int(label))

    def live_count(self) -> int:
        return self.count - len(self.deleted)

    def query(
        self, vector: np.ndarray, k: int, *, ef: int, allowed: set[int] | None = None
    ) -> tuple[list[int], list[float]]:
        k = min(k, self.live_count() if allowed is None else len(allowed))
        if k <= 0:
            return [], []
        self.index.set_ef(max(ef, k))
        if allowed is not None:
            labels, dists = self.index.knn_query(vector, k=k, filter=allowed.__contains__)
        else:
            labels, dists = self.index.knn_query(vector, k=k)
        return [int(x) for x in labels[0]], [1.0 - float(d) for d in dists[0]]

    def knn(self, queries: np.ndarray, k: int, *, ef: int, below: int | None = None) -> np.ndarray:
        """Labels of the ``k`` nearest (batch), optionally only among labels below ``below``."""
        self.index.set_ef(max(ef, k))
        flt = None if below is None or below >= self.count else (lambda label: label < below)
        labels, _ = self.index.knn_query(queries, k=k, filter=flt)
        return np.asarray(labels)

    def vectors(self, labels: list[int] | np.ndarray) -> np.ndarray:
        """Stored (unit-length) vectors of live labels."""
        return np.asarray(self.index.get_items(labels, return_type="numpy"), dtype=np.float32)

    # ------------------------------------------------------------------ persistence
    def write(self, tmp: Path) -> int:
        """Serialise the index to ``tmp`` (the caller excludes writers); returns the label count."""
        self.index.save_index(str(tmp))
        return self.count

    @classmethod
    def load(cls, path: Path, dim: int) -> tuple[VectorIndex | None, dict[str, Any], str]:
        """(index, sidecar, "") for a whole saved index, else (None, sidecar or {}, why not)."""
        try:
            side = json.loads(sidecar(path).read_text())
        except FileNotFoundError:
            return None, {}, "no saved index"
        except (OSError, ValueError):
            return None, {}, "the index sidecar is unreadable"
        try:
            if not isinstance(side, dict) or side.get("dim") != dim:
                return None, {}, "the saved index is for another vector dimension"
            if path.stat().st_size != side["size"] or _crc(path) != side["crc"]:
                return None, side, "the index file does not match its sidecar (damaged or replaced)"
            made = cls.__new__(cls)
            made.dim = dim
            made.index = hnswlib.Index(space="cosine", dim=dim)
            made.index.load_index(str(path), max_elements=max(int(side["count"]), 16))
            made.deleted = set()
            if made.count != side["count"]:
                return None, side, "the index file holds another number of records than its sidecar"
            return made, side, ""
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            return None, {}, f"the saved index could not be read ({exc})"


def publish(tmp: Path, path: Path, side: dict[str, Any]) -> None:
    """Move a written index into place and write its sidecar (size, CRC, what it reflects)."""
    full = {**side, "size": tmp.stat().st_size, "crc": _crc(tmp)}
    tmp_side = sidecar(path).with_suffix(".tmp")
    tmp_side.write_text(json.dumps(full))
    os.replace(tmp, path)  # a crash between these two replaces leaves a mismatch: repaired on open
    os.replace(tmp_side, sidecar(path))


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")
