"""Acceptance: two AgentCore kernels and the CLI on one ``$AGENTCORE_HOME`` at the same time."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import procs
from tests.helpers.kernel import KernelSession, running_kernel


def ok(kernel: KernelSession, code: str) -> str:
    result = kernel.execute(code, timeout=120)
    assert result.status == "ok", (code, result.errors, result.stderr)
    return result.text()


def work(kernel: KernelSession, who: str) -> None:
    ok(kernel, f'%memory add "Refund issued by kernel {who} for order {who}1" -n shared/{who}')
    ok(
        kernel,
        f'%%tool\ndef lookup{who}(order_id: str) -> dict:\n    """Look up order {who}."""\n    return {{"who": "{who}"}}\n',
    )
    ok(kernel, f"%%agent agent{who} --tools lookup{who}\nYou look up orders.")
    ok(kernel, f'%agent agent{who} "Where is order {who}1?" --no-trace')


def cli(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update(AGENTCORE_HOME=str(home), NO_COLOR="1")
    out = procs.cli(env, *args, timeout=120)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout


def test_two_kernels_and_the_cli_share_one_project(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"AGENTCORE_HOME": str(home), "NO_COLOR": "1", "AGENTCORE_MODEL": ""}
    with running_kernel("agentcore", env=env) as a, running_kernel("agentcore", env=env) as b:
        work(a, "A")
        work(b, "B")
        roles = {
            name: ok(k, "print(type(get_ipython()._agentcore_session.project.database).__name__)").strip()
            for name, k in (("A", a), ("B", b))
        }
        assert sorted(roles.values()) == ["Database", "RemoteDatabase"], roles  # one owner, one client
        # each kernel sees what the other committed: tools, memories, runs
        assert "lookupA" in ok(b, "%tool list") and "lookupB" in ok(a, "%tool list")
        found = ok(a, '%memory search "refund issued by kernel" -n shared/ -k 5')
        assert "kernel A" in found and "kernel B" in found
        # a third process, the CLI, while both kernels are alive
        runs = [json.loads(line) for line in cli(home, "runs", "--json").splitlines()]
        by_graph = {r["graph"]: r for r in runs}
        assert {"agentA", "agentB"} <= set(by_graph), runs
        assert all(by_graph[g]["status"] == "succeeded" for g in ("agentA", "agentB"))
        events = [json.loads(line) for line in cli(home, "events", by_graph["agentB"]["run_id"]).splitlines()]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and events[0]["type"] == "RunProvisioned"
        assert "RunExecuted" in [e["type"] for e in events]
        hits = [
            json.loads(line)
            for line in cli(home, "memory", "search", "refund issued", "-n", "shared/", "--json").splitlines()
        ]
        assert {h["namespace"] for h in hits} == {"shared/A", "shared/B"}
        # one order for every process: seq numbers are unique and gapless across both kernels' work
        every = ok(
            a,
            "log = get_ipython()._agentcore_session.project.event_log\nprint([e.seq for e in log.events()])",
        )
        all_seqs = json.loads(every.strip())
        assert all_seqs == list(range(len(all_seqs)))
