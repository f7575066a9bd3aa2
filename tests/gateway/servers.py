"""Real local services for the gateway tests: an Orders API on 127.0.0.1 (described by
orders_api.yaml) and an MCP server script built with the official ``mcp`` SDK."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).parent
API_KEY = "orders-key-" + "x" * 12
MCP_SERVER = HERE.parent.parent / "notebooks" / "assets" / "mcp_tools_server.py"


class OrdersHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict] = []
    flaky_left = 0
    # "hang" holds the request until a test releases it: a test can then tell "the call gave up
    # while the target was still hanging" from "the call waited for the target", with no clock.
    release = threading.Event()
    hangs_answered = 0

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, data: object) -> None:
        self._send(code, json.dumps(data).encode())

    def _record(self, body: object = None) -> None:
        OrdersHandler.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        url = urllib.parse.urlparse(self.path)
        if self.headers.get("X-API-Key") != API_KEY:
            return self._json(401, {"error": "missing or wrong API key"})
        parts = url.path.strip("/").split("/")
        if parts[0] == "orders" and len(parts) == 2:
            return self._json(200, {"order_id": parts[1], "status": "delivered", "carrier": "UPS"})
        if parts[0] == "broken":
            mode = parts[1]
            if mode == "invalid-json":
                return self._send(200, b"{not json")
            if mode == "wrong-shape":
                return self._json(200, {"order_id": 5, "status": "lost"})
            if mode == "hang":
                OrdersHandler.release.wait(60)
                OrdersHandler.hangs_answered += 1
                return self._json(200, {})
            if mode == "flaky":
                if OrdersHandler.flaky_left > 0:
                    OrdersHandler.flaky_left -= 1
                    return self._json(503, {"error": "try again"})
                return self._json(200, {"order_id": "f", "status": "shipped"})
            if mode == "down":
                return self._json(500, {"error": "always down"})
        if parts[0] == "sleep":
            time.sleep(0.05)
            return self._json(200, {"order_id": "s", "status": "shipped"})
        self._json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        self._record(body)
        if self.headers.get("X-API-Key") != API_KEY and self.path != "/echo":
            return self._json(401, {"error": "missing or wrong API key"})
        if self.path == "/refunds":
            return self._json(
                200, {"refund_id": "r-1", "order_id": body["order_id"], "amount": body["amount"]}
            )
        if self.path == "/echo":
            return self._json(200, {"echo": body})
        self._json(404, {"error": "not found"})

    def log_message(self, *args: object) -> None:
        pass


class Server:
    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OrdersHandler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        OrdersHandler.release.clear()
        OrdersHandler.hangs_answered = 0
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        OrdersHandler.release.set()
        self.httpd.shutdown()


# Public reference MCP servers nobody on the project wrote, installed by .ci/setup under .cache/.
REFERENCE = HERE.parent.parent / ".cache" / "mcp-servers"
TIME_SERVER = REFERENCE / "time" / "bin" / "mcp-server-time"
EVERYTHING_JS = (
    REFERENCE
    / "everything"
    / "node_modules"
    / "@modelcontextprotocol"
    / "server-everything"
    / "dist"
    / "index.js"
)
ROGUE = HERE / "rogue_mcp.py"


def reference_server(path: Path) -> Path:
    """The installed server, or a failure that says how to install it (never a silent skip)."""
    if not path.exists():
        raise AssertionError(
            f"{path} is missing: run `make setup` (.ci/setup installs the reference MCP servers)"
        )
    return path
