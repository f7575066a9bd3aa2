"""Durability: SIGKILL a real process mid-run, then resume; committed nodes never run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentcore_nb import DuckDBEventLog

# Literal names only: code nodes share one namespace, so parallel branches must not share globals.
# step08 waits for a gate file the test creates only for the resume: the first run is always
# killed while step08 runs (step00-step07 done), however fast or slow the machine is.
BODY = (
    "import os, time\n"
    "with open({SIDE!r}, 'a') as f:\n"
    "    f.write({NAME!r} + '\\n')\n"
    "if {NAME!r} == 'step08':\n"
    "    gate_deadline = time.monotonic() + 120\n"
    "    while not os.path.exists({GATE!r}) and time.monotonic() < gate_deadline:\n"
    "        time.sleep(0.01)\n"
    "time.sleep(0.05)\n"
    "v_{NAME} = {NAME!r}\n"
)


def crash_graph(tmp_path: Path, side: Path) -> Path:
    """A chain of 12 nodes, then a fan-out of 6, then a join; every node logs that it ran."""
    nodes = []
    names = [f"step{i:02d}" for i in range(12)] + [f"branch{i}" for i in range(6)] + ["join"]
    for i, name in enumerate(names):
        code = BODY.format(SIDE=str(side), GATE=str(side) + ".gate", NAME=name)
        node: dict = {"name": name, "config": {"code": code}}
        if name.startswith("step") and i > 0:
            node["after"] = [names[i - 1]]
        elif name.startswith("branch"):
            node["after"] = ["step11"]
        elif name == "join":
            node["after"] = [f"branch{j}" for j in range(6)]
            node["config"]["code"] += (
                "result = sorted(k for k in globals() if k.startswith('v_'))\nlen(result)"
            )
        nodes.append(node)
    path = tmp_path / "crash.json"
    path.write_text(json.dumps({"agentcore_graph": 1, "name": "crash", "output": "join", "nodes": nodes}))
    return path


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_sigkill_then_resume(
    tmp_path: Path, subprocess_env: dict[str, str], agentcore_home: Path, durability: str
) -> None:
    side = tmp_path / "ran.txt"
    side.touch()
    graph = crash_graph(tmp_path, side)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentcore_nb.cli", "run", str(graph), "--durability", durability],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while "step08" not in side.read_text().splitlines():  # step00-07 succeeded, step08 is held
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    Path(str(side) + ".gate").touch()  # the resumed run may pass step08

    log = DuckDBEventLog(agentcore_home / "agentcore.duckdb")
    before = [e.to_json() for e in log.events()]
    (run,) = log.runs()
    assert run.status == "incomplete"
    committed = {e.node_id for e in log.events(run.run_id, types=["NodeSucceeded"])}
    log.close()
    done = [f"step{i:02d}" for i in range(8)]
    if durability == "sync":  # each completion was committed before its dependent started
        assert committed == set(done), committed
    else:  # group commit: what was committed is a prefix of the chain, however much the writer lagged
        assert committed == set(done[: len(committed)]), committed
    ran_before = side.read_text().splitlines()

    out = subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "resume", run.run_id[:8]],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == 19  # the join saw every v_* name (its own too), restored or recomputed
    assert f"{len(committed)} committed node(s) kept" in out.stderr

    ran = side.read_text().splitlines()
    resumed_runs = ran[len(ran_before) :]
    for name in committed:
        assert name not in resumed_runs, f"committed node {name} ran again"
        assert ran.count(name) == 1
    all_names = {f"step{i:02d}" for i in range(12)} | {f"branch{i}" for i in range(6)} | {"join"}
    assert set(ran) == all_names, "|".join(ran)

    log = DuckDBEventLog(agentcore_home / "agentcore.duckdb")
    after = [e.to_json() for e in log.events()]
    assert after[: len(before)] == before  # nothing committed was lost or changed
    (final,) = log.runs()
    assert final.status == "succeeded"
    types = [e.type for e in log.events(run.run_id)]
    assert types.count("RunResumed") == 1 and types[-2:] == ["RunExecuted", "RunVanished"]
    log.close()
