"""The Ray backend: independent nodes as Ray tasks give the same results and events as the local
backend (one Ray start for this module, in a temporary directory, always shut down); ``run local``
and ``serve`` with ``--backend ray``; a Ray address that does not answer."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentcore_nb.export.bundle import load_bundle, write_graph_bundle
from agentcore_nb.export.runner import LoadedBundle
from agentcore_nb.project import Project
from agentcore_nb.runtime.ray_backend import RayBackend
from tests.helpers.served import Served

CELLS = """
import os


def square(x, k):
    return x * x + k


def total(a, b, c, d):
    return {"sum": a + b + c + d, "parts": [a, b, c, d]}


def where():
    return os.getpid()


def note(ctx, t):
    return {"session": ctx.session_id, "t": t["sum"]}
"""


def fanout_bundle(out: Path) -> Path:
    nodes = [
        {"name": n, "inputs": {"x": "$input.x", "k": "$input." + n}, "config": {"callable": "cells:square"}}
        for n in ("a", "b", "c", "d")
    ]
    nodes += [
        {
            "name": "total",
            "inputs": {"a": "a", "b": "b", "c": "c", "d": "d"},
            "config": {"callable": "cells:total"},
        },
        {"name": "where", "config": {"callable": "cells:where"}},
        {"name": "note", "inputs": {"t": "total"}, "config": {"callable": "cells:note"}},
    ]
    params = {k: {"default": 0} for k in ("x", "a", "b", "c", "d")}
    spec = {
        "agentcore_graph": 1,
        "name": "fanout",
        "output": "note",
        "nodes": nodes,
        "metadata": {"parameters": params},
    }
    return write_graph_bundle(spec, CELLS, out)


INPUT = {"x": 3, "a": 1, "b": 2, "c": 3, "d": 4}


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    import ray

    os.environ["RAY_AUTH_MODE"] = "disabled"
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    try:
        ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False)
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def _shape(events: list) -> Counter:
    return Counter((e.type, e.node_id) for e in events)


def test_ray_gives_the_same_results_and_events_as_local(ray_address: str, tmp_path: Path) -> None:
    bundle = load_bundle(fanout_bundle(tmp_path / "b"))
    with Project(tmp_path / "home") as project:
        loaded = LoadedBundle(bundle, project)
        runtime = project.runtime()
        local = loaded.run(INPUT, session_id="s")
        runtime.remote = RayBackend(init=False)
        try:
            remote = loaded.run(INPUT, session_id="s")
        finally:
            runtime.remote = None
        log = project.event_log
        local_events, remote_events = log.events(local.run_id), log.events(remote.run_id)
    assert local.ok and remote.ok
    assert remote.output == local.output == {"session": "s", "t": 9 + 1 + 9 + 2 + 9 + 3 + 9 + 4}
    same = {k: v for k, v in local.outputs.items() if k != "where"}
    assert {k: v for k, v in remote.outputs.items() if k != "where"} == same
    assert local.outputs["where"] == os.getpid()
    assert remote.outputs["where"] != os.getpid()  # it ran in a Ray worker
    assert _shape(remote_events) == _shape(local_events)
    # one writer: every event of the Ray run was written by this (the driver's) log, in order
    seqs = [e.seq for e in remote_events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_what_stays_in_the_driver(ray_address: str) -> None:
    from agentcore_nb.graph.spec import Node
    from agentcore_nb.runtime.plan import prepare_node

    backend = RayBackend(init=False)

    def gen():
        yield 1

    async def coro():
        return 1

    def with_ctx(ctx):
        return 1

    def plain(x):
        return x

    for fn, expected in ((gen, None), (coro, None), (with_ctx, None), (plain, plain)):
        prepared = prepare_node(
            Node(
                fn.__name__, "python", inputs={"x": "$input"} if fn is plain else {}, config={"callable": fn}
            )
        )
        assert backend.function_for(prepared) is expected
    code = prepare_node(Node("c", "python", config={"code": "1 + 1"}))
    assert backend.function_for(code) is None


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update(AGENTCORE_HOME=str(home), RAY_AUTH_MODE="disabled")
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def test_run_local_and_serve_with_the_ray_backend(ray_address: str, tmp_path: Path) -> None:
    bundle = fanout_bundle(tmp_path / "b")
    payload = json.dumps(INPUT)
    local = _cli("run", "local", str(bundle), "--input", payload, "--json", home=tmp_path / "h1")
    ray = _cli("run", "local", str(bundle), "--input", payload, "--json", "--backend", "ray", "--address",
               ray_address, home=tmp_path / "h2")  # fmt: skip
    assert local.returncode == 0, local.stderr
    assert ray.returncode == 0, ray.stderr
    lo, ra = json.loads(local.stdout), json.loads(ray.stdout)
    assert ra["status"] == lo["status"] == "succeeded"
    assert ra["outputs"]["total"] == lo["outputs"]["total"]
    assert ra["outputs"]["where"] != lo["outputs"]["where"]
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update(AGENTCORE_HOME=str(tmp_path / "h3"), RAY_AUTH_MODE="disabled")
    with Served(bundle, "--backend", "ray", "--address", ray_address, env=env) as served:
        got = httpx.post(served.url + "/invocations", json=INPUT, timeout=120).json()
        code, err = served.terminate()
    assert got == {"session": got["session"], "t": 46}
    assert code == 0, err


def test_a_ray_address_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bundle = fanout_bundle(tmp_path / "b")
    t0 = time.monotonic()
    done = _cli("run", "local", str(bundle), "--input", json.dumps(INPUT), "--backend", "ray", "--address",
                f"127.0.0.1:{port}", home=tmp_path / "h")  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: Ray at 127.0.0.1:{port} does not answer")
    assert "Traceback" not in done.stderr
    assert time.monotonic() - t0 < 60  # no hang


SESSION_CELLS = """
import os


def converse(message, session_state):
    turns = session_state.setdefault("turns", [])
    turns.append(message)
    return {"turns": list(turns), "pid": os.getpid()}
"""


def session_bundle(out: Path) -> Path:
    spec = {
        "agentcore_graph": 1,
        "name": "subagent",
        "output": "sub",
        "nodes": [
            {"name": "sub", "inputs": {"message": "$input.message"}, "config": {"callable": "cells:converse"}}
        ],
        "metadata": {"parameters": {"message": {"default": ""}}},
    }
    return write_graph_bundle(spec, SESSION_CELLS, out)


def _turns(result) -> list[str]:
    assert result.ok, result.errors
    return result.output["turns"]


def test_a_sub_agent_session_is_one_ray_actor_reused_across_its_calls(
    ray_address: str, tmp_path: Path
) -> None:
    import ray

    bundle = load_bundle(session_bundle(tmp_path / "b"))
    with Project(tmp_path / "home") as project:
        loaded = LoadedBundle(bundle, project)
        runtime = project.runtime()
        local = [loaded.run({"message": m}, session_id=s) for m, s in (("a", "s1"), ("b", "s1"), ("c", "s2"))]
        backend = runtime.remote = RayBackend(init=False)
        try:
            remote = [
                loaded.run({"message": m}, session_id=s) for m, s in (("a", "r1"), ("b", "r1"), ("c", "r2"))
            ]
            (actor,) = backend.session_actors("r1").values()
            assert list(backend.session_actors("r2")) == ["sub"]
            runtime.end_session("r1")  # the session ended (a served session expired): its actor goes
            assert backend.session_actors("r1") == {}
            # ray.kill is asynchronous: a call sent in the instant after it may still be served
            deadline = time.monotonic() + 60
            while True:
                try:
                    ray.get(actor.pid.remote(), timeout=60)
                except ray.exceptions.RayActorError:
                    break
                assert time.monotonic() < deadline, "the ended session's actor still answers after 60 s"
            again = loaded.run({"message": "d"}, session_id="r1")
        finally:
            backend.shutdown()  # kills the rest (r2's actor)
            runtime.remote = None
        assert backend.session_actors("r2") == {}
        log = project.event_log
        local_events = [log.events(r.run_id) for r in local]
        remote_events = [log.events(r.run_id) for r in remote]
        spans = [sorted(s.name for s in project.tracing.store.spans(r.run_id)) for r in (*local, *remote)]
    assert [_turns(r) for r in remote] == [_turns(r) for r in local] == [["a"], ["a", "b"], ["c"]]
    assert _turns(again) == ["d"]  # a new session after the end: fresh state
    pids = [r.output["pid"] for r in remote]
    assert all(p == os.getpid() for p in (r.output["pid"] for r in local))
    assert pids[0] == pids[1] != os.getpid()  # the same actor served both calls of r1
    assert pids[2] not in (pids[0], os.getpid())  # r2 has its own
    assert [_shape(e) for e in remote_events] == [_shape(e) for e in local_events]
    assert spans[:3] == spans[3:]
    seqs = [e.seq for events in remote_events for e in events]  # one writer: the driver's log
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_sub_agent_sessions_are_isolated_and_bounded(ray_address: str, tmp_path: Path) -> None:
    bundle = load_bundle(session_bundle(tmp_path / "b"))
    with Project(tmp_path / "home") as project:
        loaded = LoadedBundle(bundle, project)
        runtime = project.runtime()
        backend = runtime.remote = RayBackend(init=False, session_limit=2)
        try:
            first = [_turns(loaded.run({"message": f"{s}-1"}, session_id=s)) for s in ("x", "y")]
            assert _turns(loaded.run({"message": "x-2"}, session_id="x")) == ["x-1", "x-2"]
            _turns(loaded.run({"message": "z-1"}, session_id="z"))  # a third: y, least recent, goes
            live = {s for s in ("x", "y", "z") if backend.session_actors(s)}
            assert _turns(loaded.run({"message": "y-2"}, session_id="y")) == ["y-2"]
        finally:
            backend.shutdown()
            runtime.remote = None
    assert first == [["x-1"], ["y-1"]]  # one session never sees another's state
    assert live == {"x", "z"}
