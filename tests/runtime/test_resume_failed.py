"""A failed run (or a failed resume) is not final: resuming after fixing the cause retries the failed
and skipped nodes, and committed successes are never run again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agentcore_nb import DuckDBEventLog, Graph, Runtime

FIRST = "with open({side!r}, 'a') as f:\n    f.write('first\\n')\nbase = 20\n"
MID = "import trust_resume_helper\npart = base + trust_resume_helper.VALUE\n"
LAST = "with open({side!r}, 'a') as f:\n    f.write('last\\n')\ntotal = part * 2\ntotal\n"


def _graph(tmp_path: Path, side: Path) -> Path:
    doc = {
        "agentcore_graph": 1,
        "name": "flaky-env",
        "output": "last",
        "nodes": [
            {"name": "first", "config": {"code": FIRST.format(side=str(side))}},
            {"name": "mid", "after": ["first"], "config": {"code": MID}},
            {"name": "last", "after": ["mid"], "config": {"code": LAST.format(side=str(side))}},
        ],
    }
    path = tmp_path / "flaky.json"
    path.write_text(json.dumps(doc))
    return path


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _runs(env: dict[str, str]) -> list[dict]:
    out = _cli("runs", "--json", env=env)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_resume_after_a_failed_resume_retries_failed_and_skipped_nodes(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    side = tmp_path / "ran.txt"
    graph = _graph(tmp_path, side)
    helper_dir = tmp_path / "helpers"
    helper_dir.mkdir()
    env = {**subprocess_env, "PYTHONPATH": ""}

    first = _cli("run", str(graph), env=env)  # the helper module is not on the path yet
    assert first.returncode == 1 and "ModuleNotFoundError" in first.stderr
    (run,) = _runs(env)
    assert run["status"] == "failed"

    again = _cli("resume", run["run_id"][:8], env=env)  # still missing: the resume fails too
    assert again.returncode == 1 and "ModuleNotFoundError" in again.stderr
    assert _runs(env)[0]["status"] == "failed"
    assert side.read_text().splitlines() == ["first"]  # the committed success did not run again

    (helper_dir / "trust_resume_helper.py").write_text("VALUE = 1\n")  # the environment is fixed
    fixed = _cli("resume", run["run_id"], env={**env, "PYTHONPATH": str(helper_dir)})
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout) == 42
    assert "1 committed node(s) kept" in fixed.stderr
    assert side.read_text().splitlines() == ["first", "last"]
    assert _runs(env)[0]["status"] == "succeeded"

    # a run that succeeded is final: resuming it runs nothing and reads the result back
    final = _cli("resume", run["run_id"], env={**env, "PYTHONPATH": str(helper_dir)})
    assert final.returncode == 0 and json.loads(final.stdout) == 42
    assert side.read_text().splitlines() == ["first", "last"]


def test_a_cancelled_run_is_final(agentcore_home: Path) -> None:
    g = Graph("cancel")
    g.node("a", config={"code": "x = 1\n"})
    g.node("b", config={"code": "raise KeyboardInterrupt\n"}, after=["a"])
    log = DuckDBEventLog(agentcore_home / "agentcore.duckdb")
    with Runtime(log) as rt:
        try:
            rt.run(g, run_id="cancelled-run")
        except KeyboardInterrupt:
            pass
        again = rt.resume("cancelled-run")
        assert again.status == "cancelled" and again.resumed == []
        types = [e.type for e in rt.log.events("cancelled-run")]
        assert "RunResumed" not in types
