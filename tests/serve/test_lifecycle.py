"""Serve's lifecycle over real HTTP: session expiry, SIGTERM drain, a client leaving mid-stream,
a port in use, a bundle that fails its manifest check; every request is a run in the log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from agentcore_nb.events import RunExecuted
from agentcore_nb.project import Project
from agentcore_nb.values import decode_value
from tests.helpers.served import Served, contract_bundle

SESSION = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["AGENTCORE_HOME"] = str(home)
    return env


def _status(home: Path, run_id: str) -> str:
    with Project(home) as project:
        done = [e for e in project.event_log.events(run_id) if isinstance(e, RunExecuted)]
    return done[-1].status if done else ""


def test_an_expired_session_is_refused_over_http(tmp_path: Path) -> None:
    bundle = contract_bundle(tmp_path / "b")
    with (
        Served(bundle, "--session-max-lifetime", "1", env=_env(tmp_path / "h")) as s,
        httpx.Client(base_url=s.url, timeout=30) as c,
    ):
        assert c.post(
            "/invocations", json={"op": "remember", "text": "t"}, headers={SESSION: "life"}
        ).is_success
        deadline = time.monotonic() + 30
        while True:  # kept busy (never idle): the lifetime ends it
            r = c.post("/invocations", json={"op": "remember", "text": "t"}, headers={SESSION: "life"})
            if r.status_code == 404:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert "maximum lifetime" in r.json()["error"]
        assert "\n" not in r.json()["error"]
        again = c.post("/invocations", json=1, headers={SESSION: "life"})
        assert again.status_code == 404  # it stays ended
        # a new session starts fresh; the service keeps serving
        fresh = c.post("/invocations", json={"op": "remember", "text": "n"}, headers={SESSION: "new"})
        assert fresh.json() == {"notes": ["n"]}


def test_sigterm_drains_streams_then_exits_0_and_a_leaving_client_cancels_its_run(tmp_path: Path) -> None:
    home = tmp_path / "h"
    bundle = contract_bundle(tmp_path / "b")
    server = Served(bundle, env=_env(home))
    try:
        # a client that leaves after the first event: its run is cancelled, not left running
        with (
            httpx.Client(base_url=server.url, timeout=30) as c,
            c.stream("POST", "/invocations", json={"op": "stream", "n": 400, "delay": 0.05}) as r,
        ):
            left_run = r.headers["x-agentcore-run-id"]
            next(r.iter_lines())
        # a stream in flight when SIGTERM arrives is served to its end
        got: dict[str, object] = {}
        first = threading.Event()

        def drain() -> None:
            with (
                httpx.Client(base_url=server.url, timeout=60) as c,
                c.stream("POST", "/invocations", json={"op": "stream", "n": 20, "delay": 0.05}) as r,
            ):
                got["run"] = r.headers["x-agentcore-run-id"]
                lines = []
                for line in r.iter_lines():
                    lines.append(line)
                    first.set()
                got["events"] = [json.loads(x[6:]) for x in lines if x.startswith("data: ")]

        t = threading.Thread(target=drain)
        t.start()
        assert first.wait(30)
        code, err = server.terminate()
        t.join(30)
        assert code == 0, err
        assert got["events"] == [{"chunk": i} for i in range(20)]
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/ping", timeout=5)
    finally:
        server.stop()
    assert _status(home, str(got["run"])) == "succeeded"
    assert _status(home, left_run) == "cancelled"


def test_every_request_is_a_run_in_the_event_log(tmp_path: Path) -> None:
    home = tmp_path / "h"
    with Served(contract_bundle(tmp_path / "b"), env=_env(home)) as s, httpx.Client(base_url=s.url) as c:
        ok = c.post("/invocations", json={"op": "ctx"}, headers={SESSION: "logged"})
        bad = c.post("/invocations", json={"op": "fail"})
        # a body that spells the log's pickle marker is stored as data, never read back as a pickle
        tricky = {"$pickle": "gASVBQAAAAAAAABLAS4=", "op": None}
        odd = c.post("/invocations", content=json.dumps(tricky).replace("$", "\\u0024"))
        odd_plain = c.post("/invocations", content=json.dumps(tricky))
        s.terminate()
    run_id = ok.headers["x-agentcore-run-id"]
    assert _status(home, run_id) == "succeeded"
    assert _status(home, bad.headers["x-agentcore-run-id"]) == "failed"
    assert uuid.UUID(run_id).version == 4 and uuid.UUID(run_id).hex == run_id
    request_id = ok.json()["request"]["request_id"]
    assert uuid.UUID(request_id).version == 4 and str(uuid.UUID(request_id)) == request_id
    with Project(home) as project:
        events = project.event_log.events(run_id)
        inputs = [
            next(
                e
                for e in project.event_log.events(r.headers["x-agentcore-run-id"])
                if e.type == "RunProvisioned"
            )
            for r in (ok, odd, odd_plain)
        ]
    assert {e.session_id for e in events} == {"logged"}
    fetched = next(e for e in events if e.type == "ContextFetched")
    assert "request" in json.dumps(fetched.context)
    assert inputs[0].input == {"op": "ctx"}  # plain JSON: stored as it came
    for prov in inputs[1:]:
        assert odd.json() == odd_plain.json() == {"got": tricky}
        assert decode_value(prov.input) == tricky  # stored wrapped (pickled), so read back as sent


def _serve_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        bundle = contract_bundle(tmp_path / "b")
        done = _serve_cli(str(bundle), "--port", str(port), env=_env(tmp_path / "h"))
    finally:
        holder.close()
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: port {port} on 127.0.0.1 is in use"] or (
        done.stderr.startswith(f"error: port {port} on 127.0.0.1 is in use")
        and "Traceback" not in done.stderr
    )


def test_a_bundle_failing_its_manifest_check_is_refused(tmp_path: Path) -> None:
    bundle = contract_bundle(tmp_path / "b")
    (bundle / "cells.py").write_text("def main(payload):\n    return 'tampered'\n")
    done = _serve_cli(str(bundle), "--port", "0", env=_env(tmp_path / "h"))
    assert done.returncode == 1
    assert "cells.py does not match its manifest" in done.stderr
    assert "Traceback" not in done.stderr
    missing = _serve_cli(str(tmp_path / "nowhere"), "--port", "0", env=_env(tmp_path / "h"))
    assert missing.returncode == 1 and "no bundle directory" in missing.stderr


def test_nothing_acknowledged_is_lost_on_sigterm(tmp_path: Path) -> None:
    """The served path does not wait for each run's commit (its events are group-committed with
    other runs'); what was answered must still be in the log after SIGTERM, with its trace."""
    home = tmp_path / "h"
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    with Served(contract_bundle(tmp_path / "b"), env=_env(home)) as s:

        def client() -> None:
            with httpx.Client(base_url=s.url, timeout=60) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/invocations", json={"n": len(answered)})
                    except httpx.HTTPError:
                        return  # the server stopped accepting
                    if r.status_code == 200:
                        with lock:
                            answered.append(r.headers["x-agentcore-run-id"])

        clients = [threading.Thread(target=client) for _ in range(8)]
        for t in clients:
            t.start()
        deadline = time.monotonic() + 60
        while len(answered) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        code, _ = s.terminate()  # while the clients are still sending
        stop.set()
        for t in clients:
            t.join(60)
    assert code == 0
    assert len(answered) >= 200
    with Project(home) as project:
        done = {
            e.run_id: e.status
            for e in project.event_log.events(types=["RunExecuted"])
            if e.run_id in answered
        }
        traced = {r for (r,) in project.tracing.store._query("SELECT DISTINCT run_id FROM spans", [])}
    missing = [r for r in answered if done.get(r) != "succeeded"]
    assert not missing, f"{len(missing)} of {len(answered)} answered runs are not in the log"
    assert set(answered) <= traced
