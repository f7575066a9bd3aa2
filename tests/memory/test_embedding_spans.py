"""``embeddings {model}`` spans (OpenTelemetry GenAI conventions): one per batch of texts, under the
memory node, agent or tool call that embeds, with provider, model, dimension count and input tokens;
the OpenAI-compatible embedder reports the endpoint's own token count, and a failing call marks
its span. Read back from the project's span store."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcore_nb import Graph, Node
from agentcore_nb.memory import EmbedderError, Memory
from agentcore_nb.memory.embedders import BATCH, OpenAIEmbedder, embed, words
from agentcore_nb.observability import conventions as conv
from agentcore_nb.project import Project

HASH = conv.span_name(conv.EMBEDDINGS, "hash-384")


@pytest.fixture
def project(agentcore_home: Path) -> Iterator[Project]:
    with Project(agentcore_home) as p:
        yield p


def _stored(project: Project) -> list[tuple[str, str, dict, str, str]]:
    project.tracing.flush(10.0)
    rows = project.tracing.store._query(
        "SELECT span_id, parent_id, attributes, status, status_message FROM spans WHERE name LIKE 'embeddings %' "
        "ORDER BY start_ns",
        [],
    )
    return [(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]


def _tokens(texts: list[str]) -> int:
    return sum(len(words(t) or words(t, frozenset())) for t in texts)


def test_memory_nodes_make_one_embeddings_span_per_batch(project: Project) -> None:
    notes = [f"refund {i} issued for order {1000 + i} after a damaged parcel" for i in range(BATCH + 44)]
    g = Graph("remember")
    g.add_node(
        Node("note", kind="memory", inputs={"text": "$input.notes"}, config={"op": "add", "namespace": "n"})
    )
    g.add_node(Node("recall", kind="memory", inputs={"query": "$input.q"}, after=["note"],
                    config={"op": "search", "namespace": "n", "k": 2}))  # fmt: skip
    result = project.runtime().run(g, {"notes": notes, "q": "damaged parcel refund"})
    assert result.ok, result.errors
    project.tracing.flush(10.0)
    records = project.tracing.store.spans(result.run_id)
    by_id = {r.span_id: r for r in records}
    spans = [r for r in records if r.name == HASH]
    assert [by_id[r.parent_id].name for r in spans] == ["update_memory note"] * 2 + ["search_memory recall"]
    for r in spans:
        a = r.attributes
        assert a[conv.OPERATION] == conv.EMBEDDINGS and a[conv.PROVIDER] == "agentcore"
        assert a[conv.REQUEST_MODEL] == "hash-384" and a[conv.EMBEDDING_DIMENSIONS] == 384
        assert r.run_id == result.run_id and r.status != "error"
    assert [r.attributes[conv.INPUT_TOKENS] for r in spans] == [
        _tokens(notes[:BATCH]),
        _tokens(notes[BATCH:]),
        _tokens(["damaged parcel refund"]),
    ]


def test_embedding_outside_any_trace_is_not_stored_inside_one_it_is(
    project: Project, agentcore_home: Path
) -> None:
    memory = Memory.shared(project)
    memory.add("the parcel arrived damaged", namespace="n")
    memory.search("damaged parcel", namespace="n")
    assert _stored(project) == []  # no trace to join: no orphan rows in the store
    tracer = project.tracing.switching.get_tracer("test")
    with tracer.start_as_current_span("a cell") as parent:
        memory.search("damaged parcel", namespace="n")
    (span,) = _stored(project)
    assert span[1] == format(parent.get_span_context().span_id, "016x")
    assert span[2][conv.INPUT_TOKENS] == 2


class _Endpoint(http.server.BaseHTTPRequestHandler):
    """The OpenAI ``/embeddings`` wire format, with ``usage.prompt_tokens`` (4 per text)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["model"] == "broken":
            self.send_response(503)
            self.end_headers()
            return
        data = [{"object": "embedding", "index": i, "embedding": [1.0, float(len(t))]}
                for i, t in enumerate(body["input"])]  # fmt: skip
        usage = {"prompt_tokens": 4 * len(body["input"]), "total_tokens": 4 * len(body["input"])}
        out = json.dumps({"object": "list", "data": data, "model": body["model"], "usage": usage}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_embeddings_span_has_the_endpoint_usage_and_a_failure_marks_it(
    project: Project, endpoint: str
) -> None:
    e = OpenAIEmbedder("tiny-embed", base_url=endpoint)
    tracer = project.tracing.switching.get_tracer("test")
    with tracer.start_as_current_span("agent step"):
        assert embed(e, ["a", "bb", "ccc"]).shape == (3, 2)
        e.model = "broken"
        with pytest.raises(EmbedderError, match="answered HTTP 503"):
            embed(e, ["a"])
    ok, failed = _stored(project)
    assert ok[2][conv.PROVIDER] == "openai" and ok[2][conv.REQUEST_MODEL] == "tiny-embed"
    assert ok[2][conv.INPUT_TOKENS] == 12 and ok[2][conv.EMBEDDING_DIMENSIONS] == 2
    assert failed[3] == "error" and "HTTP 503" in failed[4]
    assert failed[2][conv.ERROR_TYPE] == "EmbedderError" and conv.INPUT_TOKENS not in failed[2]
