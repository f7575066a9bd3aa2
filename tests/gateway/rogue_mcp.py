"""A hand-written MCP stdio server (raw JSON-RPC, no SDK) that misbehaves on request, for the
gateway's bad-input tests: ``exit`` (dies at start), ``garbage`` (non-JSON on stdout), ``hang``
(never answers initialize), ``badlist`` (lists a tool whose schema is invalid), ``serve`` (answers, with tools that return every content type,
broken base64, content that fails its output schema, progress, and what it was cancelled by)."""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "serve"
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf000000030101005a4d6f6f0000000049454e44ae426082"
    )
).decode()
WAV = base64.b64encode(b"RIFF$\x00\x00\x00WAVEfmt " + bytes(24)).decode()
TOOLS = [
    {"name": "rich", "description": "Every content type.", "inputSchema": {"type": "object"},
     "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
    {"name": "bad_image", "description": "An image that is not base64.", "inputSchema": {"type": "object"}},
    {"name": "bad_schema", "description": "Fails its output schema.", "inputSchema": {"type": "object"},
     "outputSchema": {"type": "object", "properties": {"temperature": {"type": "number"}},
                      "required": ["temperature"]}},
    {"name": "slow", "description": "Reports progress, then waits to be cancelled.",
     "inputSchema": {"type": "object", "properties": {"steps": {"type": "integer"}}}},
    {"name": "env", "description": "Its environment.", "inputSchema": {"type": "object"}},
    {"name": "noisy", "description": "Writes to stderr, then answers.", "inputSchema": {"type": "object"}},
    {"name": "die", "description": "Exits in the middle of a call.", "inputSchema": {"type": "object"}},
]  # fmt: skip
lock = threading.Lock()
cancelled: set[object] = set()


def send(message: dict) -> None:
    with lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def result(rid: object, value: dict) -> None:
    send({"jsonrpc": "2.0", "id": rid, "result": value})


def marker(text: str) -> None:
    path = os.environ.get("ROGUE_MARKER")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


def slow(rid: object, params: dict) -> None:
    token = (params.get("_meta") or {}).get("progressToken")
    steps = int((params.get("arguments") or {}).get("steps", 3))
    for i in range(1, steps + 1):
        if token is not None:
            send({"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": token, "progress": i, "total": steps, "message": f"step {i}"}})  # fmt: skip
    marker("started")
    deadline = time.time() + 60
    while time.time() < deadline:
        if rid in cancelled:
            return
        time.sleep(0.02)
    result(rid, {"content": [{"type": "text", "text": "never cancelled"}]})


def call(rid: object, params: dict) -> None:
    name = params.get("name")
    if name == "rich":
        content = [
            {"type": "text", "text": "all kinds"},
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {"type": "audio", "data": WAV, "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///data/report.csv", "name": "report.csv", "mimeType": "text/csv"},
            {"type": "resource", "resource": {"uri": "mem://note", "mimeType": "text/plain", "text": "a note"}},
            {"type": "resource", "resource": {"uri": "mem://blob", "mimeType": "application/zip", "blob": "UEsFBg=="}},
        ]  # fmt: skip
        return result(rid, {"content": content, "structuredContent": {"n": 7}})
    if name == "bad_image":
        return result(
            rid, {"content": [{"type": "image", "data": "this is *not* base64!", "mimeType": "image/png"}]}
        )
    if name == "bad_schema":
        return result(
            rid, {"content": [{"type": "text", "text": "{}"}], "structuredContent": {"temperature": "hot"}}
        )
    if name == "slow":
        return threading.Thread(target=slow, args=(rid, params), daemon=True).start()
    if name == "env":
        return result(rid, {"content": [{"type": "text", "text": json.dumps(dict(os.environ))}]})
    if name == "die":
        sys.stderr.write("rogue: segfault in tool die\n")
        sys.stderr.flush()
        os._exit(7)
    if name == "noisy":
        sys.stderr.write("noisy: warming up\nnoisy: done\n")
        sys.stderr.flush()
        return result(rid, {"content": [{"type": "text", "text": "quiet answer"}]})
    send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": f"unknown tool {name}"}})


def main() -> None:
    if MODE == "exit":
        sys.stderr.write("rogue: fatal: no configuration found\n")
        sys.exit(3)
    for line in sys.stdin:
        msg = json.loads(line)
        method, rid = msg.get("method"), msg.get("id")
        if MODE == "hang":
            continue
        if MODE == "garbage":
            sys.stdout.write("Welcome to rogue server v1.0!\n")
            sys.stdout.flush()
            continue
        if method == "initialize":
            result(rid, {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                         "serverInfo": {"name": "rogue", "version": "1"}})  # fmt: skip
        elif method == "tools/list":
            broken = {
                "name": "broken",
                "inputSchema": {"type": "object", "properties": {"a": {"type": "nope"}}},
            }
            result(rid, {"tools": TOOLS + [broken] if MODE == "badlist" else TOOLS})
        elif method == "tools/call":
            call(rid, msg.get("params") or {})
        elif method == "notifications/cancelled":
            request = (msg.get("params") or {}).get("requestId")
            marker(f"cancelled {request}")
            cancelled.add(request)
        elif method == "ping":
            result(rid, {})
        elif rid is not None:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}})


if __name__ == "__main__":
    main()
