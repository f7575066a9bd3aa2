"""Gateway call costs, measured against the plain alternatives in the same run.

  dispatch     a registered Python tool through gateway.call (scope check, input validation, span,
               ActionEvent, output validation) vs calling the function directly
  concurrent   200 concurrent calls of an OpenAPI tool against a 127.0.0.1 server that sleeps
               50 ms, vs 200 concurrent raw httpx calls to the same URL

Usage: .venv/bin/python bench/gateway_calls.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

BARS = {"dispatch_overhead_us": 100.0, "concurrent_vs_raw": 1.2}
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "sleepy", "version": "1"},
    "paths": {
        "/orders/{order_id}": {
            "get": {
                "operationId": "getOrderStatus",
                "parameters": [{"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}}}},
            }
        }
    },
}  # fmt: skip


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal keep-alive HTTP/1.1 responder: sleeps 50 ms, answers JSON. Cheap per request, so
    the comparison measures the clients, not the service's own CPU."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            await asyncio.sleep(0.05)
            body = json.dumps({"order_id": path.rsplit("/", 1)[-1], "status": "delivered"}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(port: int) -> None:
    async def run() -> None:
        server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=2048)
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def start_server() -> tuple[str, subprocess.Popen]:
    """The sleepy service in its own process (so client and server do not share one GIL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"http://127.0.0.1:{port}", proc


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve)
    n = 5_000 if args.quick else 20_000
    rounds = 3 if args.quick else 7
    pairs = 5 if args.quick else 15
    os.environ["AGENTCORE_HOME"] = tempfile.mkdtemp(prefix="bench-gateway-")
    from agentcore_nb.project import Project

    project = Project()
    gw = project.services["gateway"]
    gw.register_function(add)
    base, server = start_server()
    atexit.register(server.kill)  # never leave the service behind, even when a round fails
    spec_path = Path(os.environ["AGENTCORE_HOME"]) / "sleepy.json"
    spec_path.write_text(json.dumps(SPEC))
    gw.register_openapi(spec_path, base_url=base)

    # dispatch overhead, interleaved rounds, median
    per_call = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for i in range(n):
            add(a=i, b=1)
        direct = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(n):
            gw.call("add", {"a": i, "b": 1})
        ours = time.perf_counter() - t0
        per_call.append((ours - direct) / n * 1e6)
    project.event_log.flush()
    dispatch_us = statistics.median(per_call)
    print(f"dispatch overhead: {dispatch_us:.1f} us per call (median of {rounds} rounds of {n})", flush=True)

    async def raw_batch(client: httpx.AsyncClient) -> float:
        t0 = time.perf_counter()
        rs = await asyncio.gather(*(client.get(f"{base}/orders/{i}") for i in range(200)))
        assert all(r.status_code == 200 for r in rs)
        return time.perf_counter() - t0

    async def our_batch() -> float:
        t0 = time.perf_counter()
        rs = await asyncio.gather(*(gw.acall("getOrderStatus", {"order_id": str(i)}) for i in range(200)))
        assert all(r["status"] == "delivered" for r in rs)
        return time.perf_counter() - t0

    async def concurrent() -> tuple[float, float, float]:
        """Alternating pairs, the order flipped every round; the ratio is the median of per-pair
        ratios (one slow moment of a shared machine then spoils one pair, not the result)."""
        raw_t, our_t, ratios = [], [], []
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)  # as the gateway
        async with httpx.AsyncClient(limits=limits) as client:
            await raw_batch(client)
            await our_batch()  # warm both pools
            for i in range(pairs):
                if i % 2:
                    our_t.append(await our_batch())
                    raw_t.append(await raw_batch(client))
                else:
                    raw_t.append(await raw_batch(client))
                    our_t.append(await our_batch())
                ratios.append(our_t[-1] / raw_t[-1])
        return statistics.median(raw_t), statistics.median(our_t), statistics.median(ratios)

    raw_s, our_s, ratio = asyncio.run(concurrent())
    print(f"200 concurrent calls: raw httpx {raw_s * 1000:.0f} ms, gateway {our_s * 1000:.0f} ms", flush=True)
    project.close()
    server.terminate()
    result = {
        "dispatch_overhead_us": round(dispatch_us, 1),
        "concurrent_raw_ms": round(raw_s * 1000, 1),
        "concurrent_ours_ms": round(our_s * 1000, 1),
        "concurrent_vs_raw": round(ratio, 3),
        "pairs": pairs,
    }
    result["bars_met"] = all(result[k] <= v for k, v in BARS.items())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
