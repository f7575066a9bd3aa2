"""Calibrating search effort on a store's own vectors (see ``effort.py`` for the method)."""

from __future__ import annotations

import threading
import time

import numpy as np

from .effort import CALIBRATE_MIN, LADDER, QUERIES, Calibration, K, wilson_lower
from .index import VectorIndex

_CHUNK = 50_000


def calibrate(index: VectorIndex, lock: threading.RLock, stop: threading.Event,
              seed: int | None = None) -> Calibration | None:  # fmt: skip
    """Measure recall@10 per ef against exact search; None when too small or stopped."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    with lock:
        n0 = index.count
        deleted = set(index.deleted)
    live = np.setdiff1d(np.arange(n0), np.fromiter(deleted, dtype=np.int64, count=len(deleted)))
    if len(live) < CALIBRATE_MIN:
        return None
    sample = rng.choice(live, size=min(QUERIES, len(live) // 4), replace=False)
    with lock:
        base = index.vectors(sample)
        near = index.knn(base, 2, ef=200, below=n0)
        nearest = index.vectors(near[:, 1])
    dnn = float(np.median(np.linalg.norm(base - nearest, axis=1)))
    noise = rng.normal(size=base.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = base + 0.7 * dnn * noise
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    # exact top-10 over every live record (the sampled record itself excluded), in bounded chunks
    best_s = np.full((len(sample), K), -np.inf, dtype=np.float32)
    best_l = np.full((len(sample), K), -1, dtype=np.int64)
    for lo in range(0, len(live), _CHUNK):
        if stop.is_set():
            return None
        labels = live[lo : lo + _CHUNK]
        with lock:
            chunk = index.vectors(labels)
        sims = queries @ chunk.T
        sims[labels[None, :] == sample[:, None]] = -np.inf
        all_s = np.concatenate([best_s, sims], axis=1)
        all_l = np.concatenate([best_l, np.broadcast_to(labels, sims.shape)], axis=1)
        top = np.argpartition(-all_s, K - 1, axis=1)[:, :K]
        best_s = np.take_along_axis(all_s, top, axis=1)
        best_l = np.take_along_axis(all_l, top, axis=1)
    truth = [set(row.tolist()) for row in best_l]
    result = Calibration(records=len(live), queries=len(sample))
    trials = K * len(sample)
    for ef in LADDER:
        if stop.is_set():
            return None
        with lock:
            found = index.knn(queries, K + 1, ef=ef, below=n0)
        hits = sum(len(truth[i] & {int(x) for x in found[i] if x != sample[i]}) for i in range(len(sample)))
        lower = wilson_lower(hits, trials)
        result.curve.append((ef, round(hits / trials, 4), round(lower, 4)))
        if lower >= 0.999 or ef >= len(live) // 4:  # beyond this, search is close to exhaustive
            break
    result.at = time.time()
    result.seconds = round(time.perf_counter() - t0, 3)
    return result
