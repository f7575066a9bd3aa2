"""A tiny local Orders service for the gateway notebook (stdlib only, 127.0.0.1)."""

import http.server
import json
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def _json(self, data):
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        order_id = self.path.rstrip("/").split("/")[-1]
        self._json({"order_id": order_id, "status": "delivered", "carrier": "UPS"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._json({"refund_id": "r-1", **body})

    def log_message(self, *args):
        pass


def start():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"
