"""``agentcore serve`` vs the official SDK's ``BedrockAgentCoreApp``, both serving an echo agent.

Ours: a one-node echo bundle (``payload -> payload``) under ``agentcore serve`` (the full path:
JSON parse, session handling, a run on the project's durable runtime with its spans and its events
group-committed to DuckDB off the request path (docs/serve.md, durability), the JSON response). The peer: ``bedrock-agentcore``'s ``BedrockAgentCoreApp`` with an
``@app.entrypoint`` echo handler, ``app.run()``. Both are one process on 127.0.0.1, driven by the
same load generator from another process (Debian's ``wrk``: 1 thread, 16 connections, POST of a
small JSON body), alternating A-B-A-...; each measured round follows a warm-up.
``rps_vs_sdk`` (bar >= 1.0) is ours over the SDK's requests per second (mean of rounds);
``p99_vs_sdk`` (bar <= 1.0) the ratio of the median p99 latencies. ``sessions_10k_rss_mb``: the
resident memory of our server after 10,000 distinct sessions each made one request.

Usage: .venv/bin/python bench/serve_throughput.py [--quick]
Needs ``wrk`` (``make setup`` installs it with apt-get) and ``bedrock-agentcore`` (the dev extra).
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SESSION = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
BODY = '{"message": "hello", "n": 1}'
SDK_APP = """
import logging
from bedrock_agentcore.runtime import BedrockAgentCoreApp

app = BedrockAgentCoreApp()
logging.getLogger("bedrock_agentcore").setLevel(logging.WARNING)


@app.entrypoint
def echo(payload):
    return payload


app.run(port={port}, host="127.0.0.1", log_level="warning", access_log=False)
"""
LUA = f"""
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ping(url: str, deadline: float = 60.0) -> None:
    import httpx

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def wrk(url: str, seconds: float, lua: Path) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds:g}s", "--latency", "-s", str(lua), url + "/invocations"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m, out
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} failed responses\n{out}")
    return rps, p99


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


async def many_sessions(url: str, n: int, concurrency: int = 16) -> None:
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            r = await client.post("/invocations", content=BODY, headers={SESSION: f"bench-session-{i:05d}"})
            r.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 short rounds, 2,000 sessions scaled to 10k")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    rounds, seconds, warm = (3, 4.0, 2.0) if args.quick else (5, 10.0, 3.0)
    sessions = 2000 if args.quick else 10_000

    from tests.helpers.served import Served, echo_bundle

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["AGENTCORE_HOME"] = str(tmp / "home")
    lua = tmp / "post.lua"
    lua.write_text(LUA)
    port = free_port()
    (tmp / "sdk_app.py").write_text(SDK_APP.format(port=port))
    ours = Served(echo_bundle(tmp / "echo"), env=env, cwd=tmp)
    sdk = subprocess.Popen(
        [sys.executable, str(tmp / "sdk_app.py")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp,
    )
    sdk_url = f"http://127.0.0.1:{port}"
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "sdk": []}
    try:
        wait_ping(ours.url)
        wait_ping(sdk_url)
        for url in (ours.url, sdk_url):
            wrk(url, warm, lua)
        for i in range(rounds):
            name, url = ("ours", ours.url) if i % 2 == 0 else ("sdk", sdk_url)
            results[name].append(wrk(url, seconds, lua))
            if i % 2 == 0:  # the same number of rounds for each (A-B-A-B...)
                pass
        if rounds % 2 == 1:
            results["sdk"].append(wrk(sdk_url, seconds, lua))
        base = rss_mb(ours.proc.pid)
        t0 = time.perf_counter()
        asyncio.run(many_sessions(ours.url, sessions))
        session_s = time.perf_counter() - t0
        after = rss_mb(ours.proc.pid)
        per_session_kb = (after - base) * 1024 / sessions
        rss_10k = base + per_session_kb * 10_000 / 1024
    finally:
        ours.stop()
        sdk.terminate()
        sdk.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    o_rps = statistics.mean(r for r, _ in results["ours"])
    s_rps = statistics.mean(r for r, _ in results["sdk"])
    o_p99 = statistics.median(p for _, p in results["ours"])
    s_p99 = statistics.median(p for _, p in results["sdk"])
    for name in ("ours", "sdk"):
        for rps, p99 in results[name]:
            print(f"{name:5s} {rps:8.0f} req/s  p99 {p99:6.1f} ms")
    print(f"{sessions} sessions in {session_s:.1f}s; rss {base:.0f} -> {after:.0f} MB")
    out = {
        "bench": "serve_throughput",
        "quick": args.quick,
        "connections": 16,
        "seconds_per_round": seconds,
        "ours_rps": round(o_rps, 1),
        "sdk_rps": round(s_rps, 1),
        "ours_p99_ms": round(o_p99, 2),
        "sdk_p99_ms": round(s_p99, 2),
        "rps_vs_sdk": round(o_rps / s_rps, 3),
        "p99_vs_sdk": round(o_p99 / s_p99, 3),
        "sessions_measured": sessions,
        "rss_before_sessions_mb": round(base, 1),
        "sessions_10k_rss_mb": round(rss_10k, 1),
        "bars": {"rps_vs_sdk": ">= 1.0", "p99_vs_sdk": "<= 1.0"},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
