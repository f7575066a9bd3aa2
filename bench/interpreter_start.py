"""Sandbox start-up: a plain ``python -c "print(1)"`` vs our cold, pooled and warm executions.

Interleaved in one run, so the machine's load affects them alike:
  plain   subprocess ``python -c "print(1)"`` (the same interpreter, no sandbox): the peer
  cold    a new session: bubblewrap sandbox + persistent Python interpreter started, ``print(1)``
          executed, result back (the session is stopped after, outside the timing)
  pooled  a new session of an interpreter with ``pool={"python": 2}``: its first ``print(1)``,
          from a pre-warmed sandbox (the pool refills outside the timing)
  warm    ``print(1)`` in an existing session (one round trip to the interpreter in the sandbox)
The cold case runs in both modes: root (this process, when root) and rootless (a child run of this
script as an unprivileged user, with its own interleaved plain peer; the test user is reused or
created, as the test suite does). Not root: this process is rootless and the two are the same.

Usage: .venv/bin/python bench/interpreter_start.py [--quick]
The last line printed is one JSON object: cold_vs_plain, pooled_vs_plain, rootless_cold_vs_plain,
warm_ms, cold_ms, pooled_ms and the bars.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from agentcore_nb.eventlog.memory import InMemoryEventLog
from agentcore_nb.interpreter import Interpreter

BARS = {"cold_vs_plain": 5.0, "warm_ms": 5.0, "pooled_vs_plain": 0.5, "rootless_cold_vs_plain": 5.0}


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def cold_only(rounds: int) -> dict[str, float]:
    """plain vs cold, interleaved (what the rootless child measures)."""
    plain_cmd = [sys.executable, "-c", "print(1)"]
    plain, cold = [], []
    with Interpreter(tempfile.mkdtemp(prefix="bench-interp-"), event_log=InMemoryEventLog()) as interp:
        subprocess.run(plain_cmd, check=True, capture_output=True)
        interp.execute_code("print(1)", session="warmup-cold")
        interp.stop_session("warmup-cold")
        for i in range(rounds):
            t0 = time.perf_counter()
            subprocess.run(plain_cmd, capture_output=True, text=True)
            plain.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            r = interp.execute_code("print(1)", session=f"cold-{i}")
            cold.append((time.perf_counter() - t0) * 1000)
            assert r.ok and r.stdout == "1\n", r
            interp.stop_session(f"cold-{i}")
        sandbox = r.sandbox
    return {"plain_ms": p50(plain), "cold_ms": p50(cold), "sandbox": sandbox}  # type: ignore[dict-item]


def rootless_child(rounds: int) -> dict[str, float] | None:
    """Run ``cold_only`` as the unprivileged test user (root only); None when not possible."""
    try:
        from tests.interpreter.unprivileged import UnprivilegedUnavailable, run_as_user
    except ImportError:
        return None
    try:
        done = run_as_user(["python", str(Path(__file__).resolve()), "--cold-only", str(rounds)], timeout=600)
    except UnprivilegedUnavailable as exc:
        print(f"rootless run not possible: {exc}", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"rootless run failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 10 s)")
    parser.add_argument("--cold-only", type=int, metavar="ROUNDS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_only:
        print(json.dumps(cold_only(args.cold_only)))
        return
    rounds = 15 if args.quick else 60
    warm_per_round = 10

    plain_cmd = [sys.executable, "-c", "print(1)"]
    plain, cold, warm, pooled = [], [], [], []
    root = tempfile.mkdtemp(prefix="bench-interp-")
    with (
        Interpreter(f"{root}/plain", event_log=InMemoryEventLog()) as interp,
        Interpreter(f"{root}/pooled", event_log=InMemoryEventLog(), pool={"python": 2}) as pool_interp,
    ):
        # one warm-up of each, not timed (first imports, page cache)
        subprocess.run(plain_cmd, check=True, capture_output=True)
        interp.execute_code("print(1)", session="warm")
        interp.execute_code("print(1)", session="warmup-cold")
        interp.stop_session("warmup-cold")
        assert pool_interp._pool is not None
        for i in tqdm(range(rounds), desc="interpreter_start", file=sys.stderr, disable=None):
            t0 = time.perf_counter()
            out = subprocess.run(plain_cmd, capture_output=True, text=True)
            plain.append((time.perf_counter() - t0) * 1000)
            assert out.stdout == "1\n"

            t0 = time.perf_counter()
            r = interp.execute_code("print(1)", session=f"cold-{i}")
            cold.append((time.perf_counter() - t0) * 1000)
            assert r.ok and r.stdout == "1\n" and r.sandbox.startswith("bubblewrap"), r
            interp.stop_session(f"cold-{i}")

            assert pool_interp._pool.wait_ready("python", 2)  # refilled, outside the timing
            t0 = time.perf_counter()
            r = pool_interp.execute_code("print(1)", session=f"pooled-{i}")
            pooled.append((time.perf_counter() - t0) * 1000)
            assert r.ok and r.stdout == "1\n", r
            pool_interp.stop_session(f"pooled-{i}")

            for _ in range(warm_per_round):
                t0 = time.perf_counter()
                r = interp.execute_code("print(1)", session="warm")
                warm.append((time.perf_counter() - t0) * 1000)
                assert r.ok and r.stdout == "1\n"
        mode = r.sandbox
        assert pool_interp._pool.stats["taken"] == rounds  # every pooled start came from the pool

    if mode == "bubblewrap-rootless":
        rootless: dict[str, float] | None = {"plain_ms": p50(plain), "cold_ms": p50(cold)}
    else:
        rootless = rootless_child(rounds)
    figures = {
        "benchmark": "interpreter_start",
        "peer": 'subprocess python -c "print(1)" (no sandbox)',
        "mode": mode,
        "plain_ms": round(p50(plain), 2),
        "cold_ms": round(p50(cold), 2),
        "pooled_ms": round(p50(pooled), 3),
        "warm_ms": round(p50(warm), 3),
        "cold_vs_plain": round(p50(cold) / p50(plain), 2),
        "pooled_vs_plain": round(p50(pooled) / p50(plain), 3),
        "rootless_cold_ms": round(rootless["cold_ms"], 2) if rootless else None,
        "rootless_plain_ms": round(rootless["plain_ms"], 2) if rootless else None,
        "rootless_cold_vs_plain": round(rootless["cold_ms"] / rootless["plain_ms"], 2) if rootless else None,
        "cold_p90_ms": round(statistics.quantiles(cold, n=10)[-1], 2),
        "pooled_p90_ms": round(statistics.quantiles(pooled, n=10)[-1], 3),
        "warm_p90_ms": round(statistics.quantiles(warm, n=10)[-1], 3),
        "repetitions": {"plain": len(plain), "cold": len(cold), "pooled": len(pooled), "warm": len(warm)},
        "bars": BARS,
    }
    figures["pass"] = all(
        figures[name] is not None and figures[name] <= bar  # type: ignore[operator]
        for name, bar in BARS.items()
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
