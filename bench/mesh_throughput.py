"""Mesh throughput over Redis Streams, against raw redis-py doing the same work in the same run.

  throughput   N messages of 1 KB published by one producer and consumed by 2 consumer processes
               (one consumer group, acknowledged one by one): our Bus (JSON MeshMessage, trace context,
               idempotency record, ack) vs raw redis-py XADD / XREADGROUP / XACK. Runs alternate
               A-B-A...; the figure is the median of per-pair ratios (ours over raw, higher is better).
  request      request/reply round trips through a worker on the same Redis: p50 and p99 latency.
  cpu          CPU microseconds per message of each part (producer, both consumers, redis-server),
               medians over the runs, from /proc: what each side costs, steadier than msg/s when
               other work shares the machine.

A redis-server (Debian's) is started on a free port of 127.0.0.1 in a temporary folder, with no
persistence, and always stopped.

Usage: .venv/bin/python bench/mesh_throughput.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from agentcore_nb.mesh import Bus
from agentcore_nb.mesh.redis_backend import RedisBackend

BARS = {"mesh_vs_raw": 0.7}
PAYLOAD = {"order": "x" * 1000}


def start_redis(tmp: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed: run make setup")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    r = redis.Redis.from_url(url)
    for _ in range(300):
        try:
            r.ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("redis-server did not start")


#: A consumer leaves when the bench does (its stdin closes), even if the bench was killed.
LEAVE_WITH_PARENT = """
import os, sys, threading
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
"""

RAW_CONSUMER = (
    LEAVE_WITH_PARENT
    + """
import json, sys, redis
url, topic, name = sys.argv[1:4]
r = redis.Redis.from_url(url, decode_responses=True)
print("ready", flush=True)
while True:
    reply = r.xreadgroup("g", name, {topic: ">"}, count=10, block=100)
    for _, entries in reply or []:
        for entry_id, fields in entries:
            json.loads(fields["m"])
            r.xack(topic, "g", entry_id)
"""
)

MESH_CONSUMER = (
    LEAVE_WITH_PARENT
    + """
import sys, threading
from agentcore_nb.mesh import Bus
from agentcore_nb.mesh.redis_backend import RedisBackend
url, topic, name = sys.argv[1:4]
bus = Bus(RedisBackend(url), name=name)
bus.subscribe(topic, lambda payload, message: None, group="g", consumer=name, poll_s=0.1)
print("ready", flush=True)
threading.Event().wait()
"""
)


def consumed(r: redis.Redis, topic: str, n: int) -> bool:
    for g in r.xinfo_groups(topic):
        if g["name"] == "g":
            return int(g.get("entries-read") or 0) >= n and int(g["pending"]) == 0
    return False


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: CPU microseconds per message of the last timed run, by part (producer, consumers, redis-server).
CPU: dict[str, dict[str, list[float]]] = {"raw": {}, "mesh": {}}
REDIS_PID = 0


def timed_run(url: str, n: int, topic: str, consumer_code: str, publish, kind: str) -> float:
    """Start 2 consumer processes, publish ``n`` messages, wait until the group read and acked all."""
    r = redis.Redis.from_url(url, decode_responses=True)
    r.xgroup_create(topic, "g", id="0", mkstream=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [
        subprocess.Popen([sys.executable, "-c", consumer_code, url, topic, f"c{i}"], stdout=subprocess.PIPE,
                         stdin=subprocess.PIPE, text=True, env=env)
        for i in range(2)
    ]  # fmt: skip
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        base = [cpu_s(p.pid) for p in procs], cpu_s(REDIS_PID), time.process_time()
        start = time.perf_counter()
        publish(n, topic)
        producer_cpu = time.process_time() - base[2]
        while not consumed(r, topic, n):
            time.sleep(0.002)
        rate = n / (time.perf_counter() - start)
        parts = {
            "producer": producer_cpu,
            "consumers": sum(cpu_s(p.pid) for p in procs) - sum(base[0]),
            "redis": cpu_s(REDIS_PID) - base[1],
        }
        for part, seconds in parts.items():
            CPU[kind].setdefault(part, []).append(seconds / n * 1e6)
        return rate
    finally:
        for p in procs:
            p.kill()
            p.wait()


def raw_run(url: str, n: int, topic: str) -> float:
    producer = redis.Redis.from_url(url)
    data = json.dumps(PAYLOAD)

    def publish(count: int, t: str) -> None:
        for _ in range(count):
            producer.xadd(t, {"m": data})

    return timed_run(url, n, topic, RAW_CONSUMER, publish, "raw")


def mesh_run(url: str, n: int, topic: str) -> float:
    producer = Bus(RedisBackend(url), name="producer")

    def publish(count: int, t: str) -> None:
        for _ in range(count):
            producer.publish(t, PAYLOAD)

    try:
        return timed_run(url, n, topic, MESH_CONSUMER, publish, "mesh")
    finally:
        producer.close()


def request_latencies(url: str, n: int) -> list[float]:
    worker = Bus(RedisBackend(url), name="worker")
    worker.subscribe("bench.echo", lambda payload, message: payload, poll_s=0.1)
    client = Bus(RedisBackend(url), name="client")
    client.request("bench.echo", PAYLOAD, timeout=30)  # warm: reply listener, group
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.request("bench.echo", PAYLOAD, timeout=30)
        out.append((time.perf_counter() - t0) * 1000)
    client.close()
    worker.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and pairs (a smoke run)")
    args = parser.parse_args()
    n, pairs, requests = (2000, 3, 200) if args.quick else (10000, 5, 1000)
    tmp = tempfile.mkdtemp(prefix="agentcore-bench-mesh-")
    global REDIS_PID
    proc, url = start_redis(tmp)
    REDIS_PID = proc.pid
    try:
        raw_rates, mesh_rates, ratios = [], [], []
        for i in range(pairs):
            raw = raw_run(url, n, f"raw.{i}")
            ours = mesh_run(url, n, f"mesh.{i}")
            raw_rates.append(raw)
            mesh_rates.append(ours)
            ratios.append(ours / raw)
            print(
                f"pair {i + 1}: raw {raw:,.0f} msg/s, mesh {ours:,.0f} msg/s, ratio {ours / raw:.2f}",
                flush=True,
            )
            redis.Redis.from_url(url).flushall()
        lat = sorted(request_latencies(url, requests))
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "messages": n,
        "pairs": pairs,
        "raw_msgs_per_s": round(statistics.median(raw_rates)),
        "mesh_msgs_per_s": round(statistics.median(mesh_rates)),
        "mesh_vs_raw": round(statistics.median(ratios), 3),
        "request_p50_ms": round(lat[len(lat) // 2], 2),
        "request_p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2),
        "cpu_us_per_msg": {
            kind: {part: round(statistics.median(v), 1) for part, v in parts.items()}
            for kind, parts in CPU.items()
        },
        "bars": BARS,
    }
    result["meets_bars"] = result["mesh_vs_raw"] >= BARS["mesh_vs_raw"]
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    main()
