"""Sandbox start-up: a plain ``python -c "print(1)"`` vs our cold and warm sandboxed executions.

Interleaved in one run, so the machine's load affects all three alike:
  plain   subprocess ``python -c "print(1)"`` (the same interpreter, no sandbox): the peer
  cold    a new session: bubblewrap sandbox + persistent Python interpreter started, ``print(1)``
          executed, result back (the session is stopped after, outside the timing)
  warm    ``print(1)`` in an existing session (one round trip to the interpreter in the sandbox)

Usage: .venv/bin/python bench/interpreter_start.py [--quick]
The last line printed is one JSON object: cold_vs_plain (cold p50 / plain p50), warm_ms, cold_ms.
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

BARS = {"cold_vs_plain": 5.0, "warm_ms": 5.0}


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 5 s)")
    args = parser.parse_args()
    rounds = 15 if args.quick else 60
    warm_per_round = 10

    plain_cmd = [sys.executable, "-c", "print(1)"]
    plain, cold, warm = [], [], []
    with Interpreter(tempfile.mkdtemp(prefix="bench-interp-"), event_log=InMemoryEventLog()) as interp:
        # one warm-up of each, not timed (first imports, page cache)
        subprocess.run(plain_cmd, check=True, capture_output=True)
        interp.execute_code("print(1)", session="warm")
        interp.execute_code("print(1)", session="warmup-cold")
        interp.stop_session("warmup-cold")
        for i in tqdm(range(rounds), desc="interpreter_start", file=sys.stderr, disable=None):
            t0 = time.perf_counter()
            out = subprocess.run(plain_cmd, capture_output=True, text=True)
            plain.append((time.perf_counter() - t0) * 1000)
            assert out.stdout == "1\n"

            t0 = time.perf_counter()
            r = interp.execute_code("print(1)", session=f"cold-{i}")
            cold.append((time.perf_counter() - t0) * 1000)
            assert r.ok and r.stdout == "1\n" and r.sandbox == "bubblewrap", r
            interp.stop_session(f"cold-{i}")

            for _ in range(warm_per_round):
                t0 = time.perf_counter()
                r = interp.execute_code("print(1)", session="warm")
                warm.append((time.perf_counter() - t0) * 1000)
                assert r.ok and r.stdout == "1\n"

    figures = {
        "benchmark": "interpreter_start",
        "peer": 'subprocess python -c "print(1)" (no sandbox)',
        "plain_ms": round(p50(plain), 2),
        "cold_ms": round(p50(cold), 2),
        "warm_ms": round(p50(warm), 3),
        "cold_vs_plain": round(p50(cold) / p50(plain), 2),
        "cold_p90_ms": round(statistics.quantiles(cold, n=10)[-1], 2),
        "warm_p90_ms": round(statistics.quantiles(warm, n=10)[-1], 3),
        "repetitions": {"plain": len(plain), "cold": len(cold), "warm": len(warm)},
        "bars": BARS,
    }
    figures["pass"] = (
        figures["cold_vs_plain"] <= BARS["cold_vs_plain"] and figures["warm_ms"] <= BARS["warm_ms"]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
