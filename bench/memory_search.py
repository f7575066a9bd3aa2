"""Memory search: our store vs raw hnswlib (same vectors, same parameters) vs DuckDB brute force.

A clustered synthetic set of N x 384-d vectors (100,000; --quick 20,000) with exact top-10 ground
truth. Measured in one run:
  ingest   our add_many (events + records + index) vs a raw hnswlib build (mean of one before
           and one after ours, so that drifting machine load does not favour either side)
  search   our search (query vector given, no filters) vs raw knn_query vs DuckDB
           array_cosine_similarity ... ORDER BY ... LIMIT 10 over a FLOAT[384] column
  reopen   opening the store from disk (must not rebuild a healthy index)

Usage: .venv/bin/python bench/memory_search.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import hnswlib
import numpy as np

from agentcore_nb.memory import Memory
from agentcore_nb.memory.index import EF_CONSTRUCTION, EF_SEARCH, M

BARS = {"recall_at_10": (">=", 0.99), "vs_raw_hnswlib": ("<=", 3.0), "vs_duckdb_bruteforce": (">=", 20.0),
        "ingest_vs_raw": ("<=", 1.3)}  # fmt: skip
DIM = 384


def dataset(n: int, queries: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(n // 500, 8), DIM)).astype(np.float32)
    data = centers[rng.integers(0, len(centers), n)] + 0.35 * rng.normal(size=(n, DIM)).astype(np.float32)
    q = centers[rng.integers(0, len(centers), queries)] + 0.35 * rng.normal(size=(queries, DIM)).astype(
        np.float32
    )
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return data.astype(np.float32), q.astype(np.float32)


def p50_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def raw_build(data: np.ndarray) -> tuple[hnswlib.Index, float]:
    """The peer: one hnswlib index over the same vectors with the store's parameters and threads."""
    t0 = time.perf_counter()
    raw = hnswlib.Index(space="cosine", dim=DIM)
    raw.init_index(max_elements=len(data), ef_construction=EF_CONSTRUCTION, M=M)
    raw.add_items(data, np.arange(len(data)), num_threads=-1)
    raw.set_ef(EF_SEARCH)
    return raw, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000 vectors instead of 100,000")
    args = ap.parse_args()
    n = 20_000 if args.quick else 100_000
    nq = 200
    data, queries = dataset(n, nq)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    print(f"dataset: {n} x {DIM}, {nq} queries, exact top-10 computed", flush=True)

    raw, raw_before = raw_build(data)
    print(f"raw hnswlib build: {raw_before:.2f}s", flush=True)

    home = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    os.environ["AGENTCORE_HOME"] = str(home)
    mem = Memory.open(home)
    texts = [f"synthetic record {i}" for i in range(n)]
    t0 = time.perf_counter()
    records = mem.add_many(texts, namespace="bench", vectors=data)
    ours_ingest = time.perf_counter() - t0
    label_of = {r.id: i for i, r in enumerate(records)}
    print(f"our add_many: {ours_ingest:.2f}s", flush=True)
    # Build the peer again after ours (A-B-A): the machine's load drifts during a long run, and a
    # single raw build before ours made the ratio swing between 1.06 and 1.43 on the same code.
    raw_after = raw_build(data)[1]
    raw_build_s = (raw_before + raw_after) / 2
    print(f"raw hnswlib build again: {raw_after:.2f}s", flush=True)

    # DuckDB brute force over a FLOAT[384] column
    con = duckdb.connect()
    con.execute(f"CREATE TABLE v (id INTEGER, vec FLOAT[{DIM}])")
    con.execute(
        f"INSERT INTO v SELECT unnest(?::INTEGER[]), unnest(?::FLOAT[{DIM}][])",
        [list(range(n)), data.tolist()],
    )

    ours_t, raw_t, duck_t, hits = [], [], [], 0
    duck_every = 10
    for qi, q in enumerate(queries):
        t0 = time.perf_counter()
        raw.knn_query(q, k=10)
        raw_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = mem.search(q, k=10)
        ours_t.append(time.perf_counter() - t0)
        hits += len({label_of[h.record.id] for h in found} & set(truth[qi].tolist()))
        if qi % duck_every == 0:
            t0 = time.perf_counter()
            con.execute(
                f"SELECT id FROM v ORDER BY array_cosine_similarity(vec, ?::FLOAT[{DIM}]) DESC LIMIT 10",
                [q.tolist()],
            ).fetchall()
            duck_t.append(time.perf_counter() - t0)
    mem.close()

    t0 = time.perf_counter()
    again = Memory.open(home)
    reopen = time.perf_counter() - t0
    rebuilt = again.rebuilt_index
    again.close()
    shutil.rmtree(home, ignore_errors=True)  # a full run leaves about 300 MB

    ours, raw_p, duck = p50_ms(ours_t), p50_ms(raw_t), p50_ms(duck_t)
    result = {
        "n": n,
        "recall_at_10": round(hits / (nq * 10), 4),
        "search_p50_ms": round(ours, 3),
        "raw_hnswlib_p50_ms": round(raw_p, 3),
        "duckdb_bruteforce_p50_ms": round(duck, 2),
        "vs_raw_hnswlib": round(ours / raw_p, 2),
        "vs_duckdb_bruteforce": round(duck / ours, 1),
        "ingest_s": round(ours_ingest, 2),
        "raw_build_s": round(raw_build_s, 2),
        "raw_build_before_after_s": [round(raw_before, 2), round(raw_after, 2)],
        "ingest_vs_raw": round(ours_ingest / raw_build_s, 3),
        "reopen_s": round(reopen, 3),
        "reopen_rebuilt_index": rebuilt,
    }
    failed = [
        k for k, (op, bar) in BARS.items() if not (result[k] >= bar if op == ">=" else result[k] <= bar)
    ]
    if rebuilt:
        failed.append("reopen_rebuilt_index")
    result["bars_met"] = not failed
    if failed:
        print(f"bars missed: {', '.join(failed)}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
