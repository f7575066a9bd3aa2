"""Memory search: our store vs raw hnswlib (same vectors, same parameters, same ef) vs DuckDB brute force.

A clustered synthetic set of N x 384-d vectors (--n, default 100,000; --quick 20,000; --scale also
runs 1,000,000) with exact top-10 ground truth. Each size runs in its own process (so its peak
resident memory is its own) and measures in one run:
  ingest   our add_many (events + records + index; batches of 100,000) vs a raw hnswlib build
           (mean of one before and one after ours, so that drifting machine load does not favour
           either side; at 1,000,000 one build before ours, to keep the run under an hour)
  search   our search (query vector given, no filters; the ef our recall target chose) vs raw
           knn_query at that same ef, p50 and p99; DuckDB array_cosine_similarity ... ORDER BY
           ... LIMIT 10 over a FLOAT[384] column (sizes up to 100,000)
  reopen   opening the store from disk after a clean close (must not rebuild a healthy index), and
           (sizes up to 100,000) after a writer that added 2,000 more records was SIGKILLed
           (must be a top-up from the last background checkpoint, not a rebuild)
  disk, peak resident memory of the process; CPU time of ingest and raw build beside wall time

Usage: .venv/bin/python bench/memory_search.py [--quick] [--n N] [--scale]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb
import hnswlib
import numpy as np

from agentcore_nb.memory import Memory
from agentcore_nb.memory.index import EF_CONSTRUCTION, M

BARS = {"recall_at_10": (">=", 0.99), "vs_raw_hnswlib": ("<=", 1.5), "vs_duckdb_bruteforce": (">=", 20.0),
        "ingest_vs_raw": ("<=", 1.3), "reopen_after_kill_vs_clean": ("<=", 5.0)}  # fmt: skip
BARS_AT_SCALE = {"recall_at_10": (">=", 0.99), "search_p50_ms": ("<=", 2.0), "ingest_vs_raw": ("<=", 1.3)}
DIM = 384
BATCH = 100_000
KILL_ADDS = 2_000

WRITER = textwrap.dedent(
    """
    import sys, time, numpy as np
    from agentcore_nb.memory import Memory
    rng = np.random.default_rng(11)
    m = Memory.open(sys.argv[1])
    for b in range(10):
        v = rng.normal(size=(200, 384)).astype(np.float32)
        m.add_many([f"late record {b}-{i}" for i in range(200)], namespace="bench", vectors=v)
    print("done", flush=True)
    time.sleep(600)
    """
)


def dataset(n: int, queries: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (generated in chunks: bounded memory at 1,000,000)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(n // 500, 8), DIM)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, DIM), dtype=np.float32)
        for lo in range(0, count, 50_000):
            m = min(50_000, count - lo)
            out[lo : lo + m] = centers[rng.integers(0, len(centers), m)] + 0.35 * rng.standard_normal(
                (m, DIM), dtype=np.float32
            )
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    data = draw(n)
    return data, draw(queries)


def exact_top10(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    best_s = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 10), dtype=np.int64)
    for lo in range(0, len(data), 100_000):
        sims = queries @ data[lo : lo + 100_000].T
        all_s = np.concatenate([best_s, sims], axis=1)
        all_i = np.concatenate(
            [best_i, np.broadcast_to(np.arange(lo, lo + sims.shape[1]), sims.shape)], axis=1
        )
        top = np.argpartition(-all_s, 9, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(all_s, top, axis=1), np.take_along_axis(all_i, top, axis=1)
    return best_i


def ms(times: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(times), q) * 1000)


CPU: dict[str, list[float]] = {"raw": [], "ours": []}


def raw_build(data: np.ndarray) -> tuple[hnswlib.Index, float]:
    """The peer: one hnswlib index over the same vectors with the store's parameters and threads."""
    t0, c0 = time.perf_counter(), time.process_time()
    raw = hnswlib.Index(space="cosine", dim=DIM)
    raw.init_index(max_elements=len(data), ef_construction=EF_CONSTRUCTION, M=M)
    raw.add_items(data, np.arange(len(data)), num_threads=-1)
    CPU["raw"].append(time.process_time() - c0)
    return raw, time.perf_counter() - t0


def disk_mb(home: Path) -> dict[str, float]:
    sizes = {p.name: p.stat().st_size for p in home.iterdir() if p.is_file()}
    db = sum(v for k, v in sizes.items() if k.startswith("agentcore.duckdb"))
    return {"duckdb_mb": round(db / 1e6, 1), "index_mb": round(sizes.get("memory.hnsw", 0) / 1e6, 1)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reopen_after_kill(home: Path) -> dict[str, object]:
    env = {**os.environ, "AGENTCORE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "done":
            raise SystemExit(f"the writer died before adding its records: {line!r}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    t0 = time.perf_counter()
    again = Memory.open(home)
    seconds = time.perf_counter() - t0
    opening = again.index_opening
    again.close()
    return {"reopen_after_kill_s": round(seconds, 3), "reopen_after_kill_action": opening.action,
            "reopen_after_kill_applied": opening.applied}  # fmt: skip


def one_size(n: int, *, nq: int, aba: bool) -> dict[str, object]:
    data, queries = dataset(n, nq)
    truth = exact_top10(data, queries)
    print(f"[{n}] dataset: {n} x {DIM}, {nq} queries, exact top-10 computed", flush=True)

    raw, raw_before = raw_build(data)
    print(f"[{n}] raw hnswlib build: {raw_before:.2f}s", flush=True)
    home = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    os.environ["AGENTCORE_HOME"] = str(home)
    mem = Memory.open(home)
    label_of: dict[str, int] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for lo in range(0, n, BATCH):
        records = mem.add_many([f"synthetic record {i}" for i in range(lo, min(n, lo + BATCH))],
                               namespace="bench", vectors=data[lo : lo + BATCH])  # fmt: skip
        label_of.update((r.id, lo + i) for i, r in enumerate(records))
    ours_ingest = time.perf_counter() - t0
    CPU["ours"].append(time.process_time() - c0)
    print(f"[{n}] our add_many: {ours_ingest:.2f}s", flush=True)
    peak_after_ingest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_after_ingest = rss_mb()
    t0 = time.perf_counter()
    mem.flush()  # the background calibration and checkpoint after a large ingest
    background = time.perf_counter() - t0
    effort = mem.effort()
    print(f"[{n}] background work after ingest: {background:.2f}s; effort {effort}", flush=True)
    raw_after = None
    if aba:
        # Build the peer again after ours (A-B-A): the machine's load drifts during a long run.
        raw_after = raw_build(data)[1]
        print(f"[{n}] raw hnswlib build again: {raw_after:.2f}s", flush=True)
    raw_build_s = raw_before if raw_after is None else (raw_before + raw_after) / 2

    con = None
    if n <= 100_000:
        con = duckdb.connect()
        # from NumPy columns (a Python list of 38M floats took about 9 GB of memory at 100,000)
        con.register("src", {"id": np.arange(n, dtype=np.int32),
                             **{f"c{j}": np.ascontiguousarray(data[:, j]) for j in range(DIM)}})  # fmt: skip
        columns = ",".join(f"c{j}" for j in range(DIM))
        con.execute(f"CREATE TABLE v AS SELECT id, array_value({columns})::FLOAT[{DIM}] AS vec FROM src")
        con.unregister("src")
    ef = int(effort["ef"])
    raw.set_ef(ef)
    ours_t, raw_t, duck_t, hits, raw_hits = [], [], [], 0, 0
    for qi, q in enumerate(queries):
        t0 = time.perf_counter()
        raw_labels, _ = raw.knn_query(q, k=10)
        raw_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = mem.search(q, k=10)
        ours_t.append(time.perf_counter() - t0)
        hits += len({label_of[h.record.id] for h in found} & set(truth[qi].tolist()))
        raw_hits += len(set(raw_labels[0].tolist()) & set(truth[qi].tolist()))
        if con is not None and qi % 10 == 0:
            t0 = time.perf_counter()
            con.execute(f"SELECT id FROM v ORDER BY array_cosine_similarity(vec, ?::FLOAT[{DIM}]) DESC LIMIT 10",
                        [q.tolist()]).fetchall()  # fmt: skip
            duck_t.append(time.perf_counter() - t0)
    del raw, con
    mem.close()
    disk = disk_mb(home)

    t0 = time.perf_counter()
    again = Memory.open(home)
    reopen = time.perf_counter() - t0
    rebuilt = again.rebuilt_index
    again.close()
    result: dict[str, object] = {
        "n": n,
        "recall_at_10": round(hits / (nq * 10), 4),
        "raw_recall_at_10": round(raw_hits / (nq * 10), 4),
        "ef": ef,
        "effort_source": effort["source"],
        "calibrated_recall": effort["measured_recall"],
        "search_p50_ms": round(ms(ours_t, 0.5), 3),
        "search_p99_ms": round(ms(ours_t, 0.99), 3),
        "raw_hnswlib_p50_ms": round(ms(raw_t, 0.5), 3),
        "raw_hnswlib_p99_ms": round(ms(raw_t, 0.99), 3),
        "vs_raw_hnswlib": round(ms(ours_t, 0.5) / ms(raw_t, 0.5), 2),
        "ingest_s": round(ours_ingest, 2),
        "ingest_per_s": round(n / ours_ingest),
        "raw_build_s": round(raw_build_s, 2),
        "raw_build_before_after_s": [round(raw_before, 2)] + ([round(raw_after, 2)] if raw_after else []),
        "ingest_vs_raw": round(ours_ingest / raw_build_s, 3),
        # CPU time of all the process's threads: the work itself, which other jobs on a shared machine
        # do not change (wall time there swung 105-180 s for the same raw build)
        "ingest_cpu_s": round(CPU["ours"][0], 1),
        "raw_build_cpu_s": round(statistics.mean(CPU["raw"]), 1),
        "ingest_cpu_vs_raw": round(CPU["ours"][0] / statistics.mean(CPU["raw"]), 3),
        "background_after_ingest_s": round(background, 2),
        "reopen_s": round(reopen, 3),
        "reopen_rebuilt_index": rebuilt,
        **disk,
    }
    if duck_t:
        result["duckdb_bruteforce_p50_ms"] = round(statistics.median(duck_t) * 1000, 2)
        result["vs_duckdb_bruteforce"] = round(statistics.median(duck_t) * 1000 / ms(ours_t, 0.5), 1)
    if n <= 100_000:
        result.update(reopen_after_kill(home))
        result["reopen_after_kill_vs_clean"] = round(float(result["reopen_after_kill_s"]) / reopen, 2)  # type: ignore[arg-type]
    # both include the dataset and the raw peer's index, alive in the same process during our ingest
    result["rss_after_ingest_mb"] = round(rss_after_ingest, 1)
    result["peak_rss_during_ingest_mb"] = round(peak_after_ingest, 1)
    shutil.rmtree(home, ignore_errors=True)  # a full run leaves about 300 MB
    return result


def missed(result: dict[str, object], bars: dict[str, tuple[str, float]]) -> list[str]:
    out = [k for k, (op, bar) in bars.items() if k in result
           and not (result[k] >= bar if op == ">=" else result[k] <= bar)]  # type: ignore[operator]  # fmt: skip
    if result.get("reopen_rebuilt_index"):
        out.append("reopen_rebuilt_index")
    if result.get("reopen_after_kill_action", "topped-up") == "rebuilt":
        out.append("reopen_after_kill_action")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20,000 vectors instead of 100,000")
    ap.add_argument("--n", type=int, default=None, help="records (default 100,000)")
    ap.add_argument("--scale", action="store_true", help="also run 1,000,000 records (about an hour here)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # one size, in a child
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, nq=200, aba=args.one < 1_000_000)))
        return
    n = args.n or (20_000 if args.quick else 100_000)
    sizes = [n] + ([1_000_000] if args.scale and n != 1_000_000 else [])
    results = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)], stdout=subprocess.PIPE, text=True
        )
        lines = out.stdout.strip().splitlines()
        print("\n".join(lines[:-1]), flush=True)
        if out.returncode != 0 or not lines:
            raise SystemExit(f"the run at {size} records failed (exit {out.returncode})")
        results.append(json.loads(lines[-1]))
    result = dict(results[0])
    failed = missed(result, BARS)
    if len(results) > 1:
        result["scale"] = results[1]
        failed += [f"scale.{k}" for k in missed(results[1], BARS_AT_SCALE)]
    result["bars_met"] = not failed
    if failed:
        print(f"bars missed: {', '.join(failed)}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
