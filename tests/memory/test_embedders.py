"""Embedders: the default hash embedder's behaviour, and a real HTTP server speaking the OpenAI
``/embeddings`` wire format for the endpoint embedder."""

from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pytest

from agentcore_nb.memory import EmbedderError, Memory, get_embedder
from agentcore_nb.memory.embedders import OpenAIEmbedder


def test_hash_embedder_is_deterministic_normalised_and_lexical():
    e = get_embedder()
    a, b, c = e.embed(["Refunds for orders", "refund for order", "password reset"])
    assert e.name == "hash-384" and a.shape == (384,)
    assert np.isclose(np.linalg.norm(a), 1.0)
    assert a @ b > 0.8 > 0.2 > a @ c  # word forms match; unrelated words do not
    assert np.array_equal(e.embed(["Refunds for orders"])[0], a)
    assert get_embedder("hash-64").dim == 64


@pytest.mark.parametrize("spec", ["nope", "hash-2", "openai:"])
def test_unknown_embedders_are_refused(spec):
    with pytest.raises(EmbedderError, match="unknown embedder"):
        get_embedder(spec)


class _Embeddings(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, self.headers.get("Authorization"), body))
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            return
        vecs = [[float(len(t)), float(t.count("a")), 1.0] for t in body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]
        out = json.dumps({"object": "list", "data": data[::-1], "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def embeddings_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_compatible_endpoint(embeddings_server, agentcore_home):
    e = OpenAIEmbedder("tiny", base_url=embeddings_server, api_key="sk-test-secret")
    assert e.dim == 3 and e.name == "openai:tiny"
    vecs = e.embed(["aaa", "b"])
    assert vecs.shape == (2, 3) and vecs[0][1] > vecs[1][1]  # order restored from "index"
    path, auth, body = _Embeddings.seen[-1]
    assert path == "/v1/embeddings" and auth == "Bearer sk-test-secret" and body["input"] == ["aaa", "b"]
    with Memory.open(agentcore_home, embedder=e) as m:
        m.add("banana", namespace="fruit")
        assert m.stats()["embedder"] == "openai:tiny"
    with pytest.raises(EmbedderError, match="answered HTTP 500"):
        OpenAIEmbedder("broken", base_url=embeddings_server)
    with pytest.raises(EmbedderError, match="unreachable"):
        OpenAIEmbedder("x", base_url="http://127.0.0.1:9/v1")
