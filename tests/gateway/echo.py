"""A local echo server (127.0.0.1) that records exactly what arrived: method, path, raw query,
headers, body bytes and content type; it answers what a test asks for (``answers``) or an
``{"echoed": true}`` JSON object."""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Arrival:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    content_type: str = ""

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def query_pairs(self) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(self.query, keep_blank_values=True)

    def cookies(self) -> list[tuple[str, str]]:
        raw = self.header("Cookie") or ""
        out = []
        for piece in raw.split(";"):
            if "=" in piece:
                k, v = piece.strip().split("=", 1)
                out.append((k, urllib.parse.unquote(v)))
        return out

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True)

    def parts(self) -> list[dict[str, Any]]:
        """multipart/form-data parts: name, filename, content type, bytes (parsed by the stdlib)."""
        raw = f"Content-Type: {self.content_type}\r\n\r\n".encode() + self.body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        out = []
        for part in msg.iter_parts():
            out.append({
                "name": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "type": part.get_content_type() if part.get("Content-Type") else None,
                "data": part.get_payload(decode=True),
            })  # fmt: skip
        return out


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"echoed": true}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        arrival = Arrival(self.command, path, query, dict(self.headers.items()), body,
                          self.headers.get("Content-Type", ""))  # fmt: skip
        with self.server.lock:
            self.server.arrivals.append(arrival)
            answer = self.server.answers.get(path) or self.server.default
        self.send_response(answer.status)
        for k, v in answer.headers.items():
            self.send_header(k, v)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_TRACE = _any  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    arrivals: list[Arrival]
    answers: dict[str, Answer]
    default: Answer
    lock: threading.Lock


class EchoServer:
    def __init__(self) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.arrivals, self.httpd.answers = [], {}
        self.httpd.default, self.httpd.lock = Answer(), threading.Lock()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def arrivals(self) -> list[Arrival]:
        return self.httpd.arrivals

    def last(self) -> Arrival:
        return self.httpd.arrivals[-1]

    def answer(self, path: str, answer: Answer) -> None:
        self.httpd.answers[path] = answer

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
