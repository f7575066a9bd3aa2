"""Local HTTP servers on 127.0.0.1 that speak the OpenAI chat-completions and the Anthropic Messages
wire formats (JSON and SSE streaming), driven by a script: ``brain(request_body) -> Reply``.

They are the only fakes in the suite (a paid LLM API), and they are real servers: the provider
clients talk to them over TCP exactly as they would to the real APIs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments dict or raw str)
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # message in the error body for non-200 replies
    raw: Any = None  # a body to send as it is (JSON)
    input_tokens: int = 11
    output_tokens: int = 7


Brain = Callable[[dict[str, Any]], Reply]


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out on purpose hang up mid-reply


class _Server:
    path = "/"

    def __init__(self, brain: Brain) -> None:
        self.brain = brain
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.requests.append(body)
                    owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path != owner.path:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = owner.brain(body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    self._send(
                        reply.status,
                        {"error": {"type": "error", "message": reply.error or "failed"}},
                        reply.headers,
                    )
                elif reply.raw is not None:
                    self._send(200, reply.raw)
                elif body.get("stream"):
                    self._sse(owner.sse_events(body, reply))
                else:
                    self._send(200, owner.body(body, reply))

            def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _sse(self, events: list[tuple[str, str]]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for name, data in events:
                    chunk = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
                    self.wfile.write(chunk.encode())
                    self.wfile.flush()
                self.close_connection = True

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def body(self, request: dict[str, Any], reply: Reply) -> Any:
        raise NotImplementedError

    def sse_events(self, request: dict[str, Any], reply: Reply) -> list[tuple[str, str]]:
        raise NotImplementedError


def _args_text(args: Any) -> str:
    return args if isinstance(args, str) else json.dumps(args)


class FakeOpenAI(_Server):
    """``POST /v1/chat/completions``; base URL ``http://127.0.0.1:PORT/v1``."""

    path = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def body(self, request: dict[str, Any], reply: Reply) -> Any:
        calls = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": _args_text(a)}}
            for i, (n, a) in enumerate(reply.tool_calls)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": request.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": 0,
            },
        }

    def sse_events(self, request: dict[str, Any], reply: Reply) -> list[tuple[str, str]]:
        model = request.get("model")
        out: list[dict[str, Any]] = [
            {"choices": [{"index": 0, "delta": {"role": "assistant"}}], "model": model}
        ]
        for word in reply.text.split(" ") if reply.text else []:
            piece = word if not out[1:] else " " + word
            out.append({"choices": [{"index": 0, "delta": {"content": piece}}], "model": model})
        for i, (name, args) in enumerate(reply.tool_calls):
            text = _args_text(args)
            half = len(text) // 2
            out.append(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": i,
                                        "id": f"call_{i}",
                                        "type": "function",
                                        "function": {"name": name, "arguments": text[:half]},
                                    }
                                ]
                            },
                        }
                    ]
                }
            )
            out.append(
                {
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"tool_calls": [{"index": i, "function": {"arguments": text[half:]}}]},
                        }
                    ]
                }
            )
        out.append(
            {
                "choices": [
                    {"index": 0, "delta": {}, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
                ]
            }
        )
        out.append(
            {
                "choices": [],
                "usage": {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens},
            }
        )
        return [("", json.dumps(c)) for c in out] + [("", "[DONE]")]


class FakeAnthropic(_Server):
    """``POST /v1/messages``; base URL ``http://127.0.0.1:PORT``."""

    path = "/v1/messages"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _content(self, reply: Reply) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        for i, (name, args) in enumerate(reply.tool_calls):
            content.append({"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args})
        return content

    def body(self, request: dict[str, Any], reply: Reply) -> Any:
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": request.get("model"),
            "content": self._content(reply),
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }

    def sse_events(self, request: dict[str, Any], reply: Reply) -> list[tuple[str, str]]:
        ev: list[dict[str, Any]] = [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": request.get("model"),
                    "content": [],
                    "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
                },
            },
            {"type": "ping"},
        ]
        index = 0
        if reply.text:
            ev.append(
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            )
            for i, word in enumerate(reply.text.split(" ")):
                ev.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": word if i == 0 else " " + word},
                    }
                )
            ev.append({"type": "content_block_stop", "index": index})
            index += 1
        for i, (name, args) in enumerate(reply.tool_calls):
            text = _args_text(args)
            ev.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": {}},
                }
            )
            half = len(text) // 2
            for part in (text[:half], text[half:]):
                ev.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    }
                )
            ev.append({"type": "content_block_stop", "index": index})
            index += 1
        ev.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn"},
                "usage": {"output_tokens": reply.output_tokens},
            }
        )
        ev.append({"type": "message_stop"})
        return [(e["type"], json.dumps(e)) for e in ev]


def scripted(*replies: Reply) -> Brain:
    """A brain that answers with ``replies`` in order (the last one repeats)."""
    queue = list(replies)
    lock = threading.Lock()

    def brain(body: dict[str, Any]) -> Reply:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return brain
