"""The AgentCore Runtime contract over real HTTP: ping, invocations, errors, streaming, headers."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

SESSION = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
REQUEST = "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id"


def events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            out.append(json.loads(block[len("data: ") :]))
    return out


def test_ping_is_healthy_with_an_integer_time(client: httpx.Client) -> None:
    r = client.get("/ping")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "Healthy"
    assert isinstance(body["time_of_last_update"], int)
    assert client.get("/ping").json()["time_of_last_update"] == body["time_of_last_update"]


@pytest.mark.parametrize("value", [{"a": 1}, [1, "two", None], "text", 42, 3.5, True, None])
def test_any_json_value_reaches_the_graph(client: httpx.Client, value: object) -> None:
    r = client.post("/invocations", content=json.dumps(value))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"got": value}


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2"])
def test_a_body_that_is_not_json_is_400(client: httpx.Client, body: bytes) -> None:
    r = client.post("/invocations", content=body)
    assert r.status_code == 400
    assert r.json()["error"] == "Invalid JSON"
    assert client.get("/ping").status_code == 200  # still serving


def test_a_body_that_is_not_utf8_is_400(client: httpx.Client) -> None:
    r = client.post("/invocations", content=b"\xff\xfe{")
    assert r.status_code == 400
    assert r.json()["error"] == "Invalid encoding"


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    r = client.post("/invocations", content=json.dumps({"x": "y" * 5000}))
    assert r.status_code == 413
    assert "4096" in r.json()["details"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/invocations", content=chunks())
    assert r.status_code == 413
    assert client.post("/invocations", content="1").json() == {"got": 1}


def test_a_failing_graph_is_500_with_one_line(client: httpx.Client) -> None:
    r = client.post("/invocations", json={"op": "fail"})
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"error"}
    assert "the graph failed on purpose" in body["error"]
    assert "\n" not in body["error"] and "Traceback" not in body["error"]


def test_wrong_methods_are_405_with_allow(client: httpx.Client) -> None:
    r = client.get("/invocations")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    r = client.post("/ping")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]
    assert client.get("/nowhere").status_code == 404


def test_a_yielding_output_node_streams_server_sent_events(client: httpx.Client) -> None:
    r = client.post("/invocations", json={"op": "stream", "n": 4})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert events(r.text) == [{"chunk": i} for i in range(4)]


def test_an_async_generator_streams_too(client: httpx.Client) -> None:
    r = client.post("/invocations", json={"op": "astream", "n": 3})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert events(r.text) == [{"achunk": i} for i in range(3)]


def test_an_error_mid_stream_keeps_200_and_ends_with_an_error_event(client: httpx.Client) -> None:
    r = client.post("/invocations", json={"op": "stream", "n": 5, "fail_after": 2})
    assert r.status_code == 200
    got = events(r.text)
    assert got[:2] == [{"chunk": 0}, {"chunk": 1}]
    last = got[-1]
    assert len(got) == 3
    assert set(last) == {"error", "error_type", "message"}
    assert last["error_type"] == "ValueError"
    assert "broke mid-stream" in last["error"]


def test_headers_reach_the_graph_context(client: httpx.Client) -> None:
    rid = str(uuid.uuid4())
    r = client.post(
        "/invocations",
        json={"op": "ctx"},
        headers={
            REQUEST: rid,
            SESSION: "sess-headers",
            "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant": "acme",
            "X-Other": "not forwarded",
        },
    )
    body = r.json()
    assert body["request"]["request_id"] == rid
    assert body["session_id"] == "sess-headers"
    assert body["request"]["headers"] == {"x-amzn-bedrock-agentcore-runtime-custom-tenant": "acme"}
    # no request id given: a fresh UUID
    generated = client.post("/invocations", json={"op": "ctx"}).json()["request"]["request_id"]
    assert str(uuid.UUID(generated)) == generated


def test_one_session_never_sees_another(client: httpx.Client) -> None:
    a, b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    client.post("/invocations", json={"op": "remember", "text": "a-secret"}, headers={SESSION: a})
    got_b = client.post("/invocations", json={"op": "remember", "text": "b1"}, headers={SESSION: b}).json()
    got_a = client.post("/invocations", json={"op": "remember", "text": "a2"}, headers={SESSION: a}).json()
    assert got_b == {"notes": ["b1"]}
    assert got_a == {"notes": ["a-secret", "a2"]}
    # no session header: nothing is kept
    none = client.post("/invocations", json={"op": "remember", "text": "x"}).json()
    assert none == {"notes": ["x"]}


def test_concurrent_sessions_are_safe(served, client: httpx.Client) -> None:
    import concurrent.futures

    def one(i: int) -> dict:
        with httpx.Client(base_url=served.url, timeout=60) as c:
            for j in range(3):
                got = c.post(
                    "/invocations",
                    json={"op": "remember", "text": f"{i}-{j}"},
                    headers={SESSION: f"conc-{i}"},
                ).json()
            return got

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    for i, got in enumerate(results):
        assert got == {"notes": [f"{i}-0", f"{i}-1", f"{i}-2"]}


def test_ping_is_busy_while_background_work_runs(client: httpx.Client, tmp_path: Path) -> None:
    release = tmp_path / "release"
    before = client.get("/ping").json()
    assert before["status"] == "Healthy"
    assert client.post("/invocations", json={"op": "background", "release": str(release)}).json() == {
        "started": True
    }
    busy = client.get("/ping").json()
    assert busy["status"] == "HealthyBusy"  # the node returned at once; its work still runs
    assert busy["time_of_last_update"] >= before["time_of_last_update"]
    assert client.get("/ping").json()["time_of_last_update"] == busy["time_of_last_update"]
    release.write_text("go")
    deadline = time.monotonic() + 30
    while client.get("/ping").json()["status"] != "Healthy":
        assert time.monotonic() < deadline, "background work never finished"
        time.sleep(0.05)


def test_a_bad_session_id_is_400(client: httpx.Client) -> None:
    r = client.post("/invocations", json=1, headers={SESSION: "x" * 300})
    assert r.status_code == 400
