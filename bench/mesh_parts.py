"""Where a mesh message's cost goes: CPU per message of our producer and consumer vs raw redis-py.

A diagnostic beside ``bench/mesh_throughput.py`` (which holds the bar): msg/s on a shared 2-core
machine swings with everyone else's load, CPU time per message much less so.

  producer   CPU microseconds per publish in this process: ``Bus.publish`` (envelope, span, XADD)
             vs raw ``XADD`` of the same 1 KB JSON payload, alternating.
  consumer   CPU microseconds per message of one consumer in this process while a producer process
             publishes one message every 0.5 ms, so each read returns about one message (a quiet
             machine's pattern, where acknowledgements cannot be batched): our subscription
             (decode, span, handler, idempotency record + ack with the next read) vs raw
             XREADGROUP / json.loads / XACK.

Ratios are raw over ours (higher is better for us; 1.0 means we cost what raw redis-py costs).
Usage: .venv/bin/python bench/mesh_parts.py [--quick]. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import redis
from mesh_throughput import PAYLOAD, start_redis

from agentcore_nb.mesh import Bus
from agentcore_nb.mesh.redis_backend import RedisBackend

PACED_PRODUCER = """
import json, sys, time, redis
from agentcore_nb.mesh import Bus
from agentcore_nb.mesh.redis_backend import RedisBackend
url, kind, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
payload = {"order": "x" * 1000}
if kind == "raw":
    r, data = redis.Redis.from_url(url), json.dumps(payload)
    send = lambda: r.xadd(topic, {"m": data})
else:
    bus = Bus(RedisBackend(url), name="producer")
    send = lambda: bus.publish(topic, payload)
for _ in range(n):
    send()
    time.sleep(0.0005)
"""


def producer_us(url: str, n: int, topic: str) -> tuple[float, float]:
    r = redis.Redis.from_url(url)
    bus = Bus(RedisBackend(url), name="producer")
    data = json.dumps(PAYLOAD)
    t = time.process_time()
    for _ in range(n):
        r.xadd(f"raw.{topic}", {"m": data})
    raw = (time.process_time() - t) / n * 1e6
    t = time.process_time()
    for _ in range(n):
        bus.publish(f"mesh.{topic}", PAYLOAD)
    ours = (time.process_time() - t) / n * 1e6
    bus.close()
    r.close()
    return raw, ours


def paced(url: str, kind: str, topic: str, n: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", PACED_PRODUCER, url, kind, topic, str(n)], env=env)


def consumer_us(url: str, n: int, topic: str) -> tuple[float, float]:
    r = redis.Redis.from_url(url, decode_responses=True)
    raw_topic, mesh_topic = f"raw.{topic}", f"mesh.{topic}"
    r.xgroup_create(raw_topic, "g", id="0", mkstream=True)
    producer = paced(url, "raw", raw_topic, n)
    t, got = time.process_time(), 0
    deadline = time.monotonic() + 600
    while got < n and time.monotonic() < deadline:
        for _, entries in r.xreadgroup("g", "c", {raw_topic: ">"}, count=10, block=100) or []:
            for entry_id, fields in entries:
                json.loads(fields["m"])
                r.xack(raw_topic, "g", entry_id)
                got += 1
    raw = (time.process_time() - t) / n * 1e6
    producer.wait()
    if got < n:
        sys.exit(f"raw consumer got {got} of {n} messages in 600 s")

    bus = Bus(RedisBackend(url), name="consumer")
    ticks = threading.Event()  # never set: a wait with a timeout, between looks at the count
    t = time.process_time()
    sub = bus.subscribe(mesh_topic, lambda payload, message: None, group="g", consumer="c", poll_s=0.1)
    producer = paced(url, "mesh", mesh_topic, n)
    while sub.handled < n and time.monotonic() < deadline + 600:
        ticks.wait(0.05)
    ours = (time.process_time() - t) / n * 1e6
    producer.wait()
    if sub.handled < n:
        sys.exit(f"mesh consumer handled {sub.handled} of {n} messages in time")
    bus.close()
    r.close()
    return raw, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds (a smoke run)")
    args = parser.parse_args()
    n, rounds = (500, 2) if args.quick else (3000, 3)
    tmp = tempfile.mkdtemp(prefix="agentcore-bench-mesh-parts-")
    proc, url = start_redis(tmp)
    out: dict[str, list[tuple[float, float]]] = {"producer": [], "consumer": []}
    try:
        for i in range(rounds):
            out["producer"].append(producer_us(url, n, f"p{i}"))
            out["consumer"].append(consumer_us(url, n, f"c{i}"))
            for part, pairs in out.items():
                raw, ours = pairs[-1]
                print(f"round {i + 1} {part}: raw {raw:.1f} us, ours {ours:.1f} us", flush=True)
            redis.Redis.from_url(url).flushall()
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    result: dict[str, object] = {"messages": n, "rounds": rounds}
    for part, pairs in out.items():
        result[f"{part}_raw_us"] = round(statistics.median(raw for raw, _ in pairs), 1)
        result[f"{part}_ours_us"] = round(statistics.median(ours for _, ours in pairs), 1)
        result[f"{part}_raw_over_ours"] = round(statistics.median(raw / ours for raw, ours in pairs), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    main()
