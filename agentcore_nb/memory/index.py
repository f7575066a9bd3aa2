"""The hnswlib (cosine) index beside the DuckDB file, with a sidecar that says what it covers.

The sidecar (``memory.hnsw.json``) records the file's size and CRC, the label count and the
embedder; an index whose sidecar disagrees with its file is never loaded (hnswlib itself does not
check a truncated file), so opening a damaged index repairs it instead of crashing.
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
EF_SEARCH = 64


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
        self.index.set_ef(EF_SEARCH)
        self.deleted: set[int] = set()

    @property
    def count(self) -> int:
        return int(self.index.get_current_count())

    def add(self, vectors: np.ndarray, labels: np.ndarray, *, threads: int = -1) -> None:
        need = self.count + len(labels)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, 2 * self.index.get_max_elements()))
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
        self, vector: np.ndarray, k: int, *, allowed: set[int] | None = None
    ) -> tuple[list[int], list[float]]:
        k = min(k, self.live_count() if allowed is None else len(allowed))
        if k <= 0:
            return [], []
        self.index.set_ef(max(EF_SEARCH, k))
        if allowed is not None:
            labels, dists = self.index.knn_query(vector, k=k, filter=allowed.__contains__)
        else:
            labels, dists = self.index.knn_query(vector, k=k)
        return [int(x) for x in labels[0]], [1.0 - float(d) for d in dists[0]]

    def vectors(self, labels: list[int]) -> np.ndarray:
        return np.asarray(self.index.get_items(labels), dtype=np.float32)

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path, meta: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        self.index.save_index(str(tmp))
        os.replace(tmp, path)
        side = {**meta, "count": self.count, "size": path.stat().st_size, "crc": _crc(path), "dim": self.dim}
        tmp_side = sidecar(path).with_suffix(".tmp")
        tmp_side.write_text(json.dumps(side))
        os.replace(tmp_side, sidecar(path))

    @classmethod
    def load(cls, path: Path, dim: int, meta: dict[str, Any]) -> VectorIndex | None:
        """The saved index, or None when it is missing, damaged or for other vectors."""
        try:
            side = json.loads(sidecar(path).read_text())
            if side.get("dim") != dim or any(side.get(k) != v for k, v in meta.items()):
                return None
            if path.stat().st_size != side["size"] or _crc(path) != side["crc"]:
                return None
            made = cls.__new__(cls)
            made.dim = dim
            made.index = hnswlib.Index(space="cosine", dim=dim)
            made.index.load_index(str(path), max_elements=max(int(side["count"]), 16))
            made.index.set_ef(EF_SEARCH)
            made.deleted = set()
            if made.count != side["count"]:
                return None
            return made
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")
