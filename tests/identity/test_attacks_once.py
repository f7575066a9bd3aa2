"""Attacks on single-use tokens: a ``once`` token replayed at the same boundary, at another one,
through a delegation, and from a second process of the project. Its one use is spent wherever it
happens (``runtime.run``, the gateway, memory, the interpreter, ``delegate``) and every later use,
anywhere, is refused with ``single-use token already used``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentcore_nb import Graph
from agentcore_nb.errors import NotPermittedError
from agentcore_nb.identity import Identity
from agentcore_nb.project import Project

REPO = Path(__file__).resolve().parents[2]
SID = "conv-once"
SCOPES = "tool:getOrderStatus tool:executeCode memory:read:support memory:write:support code:exec"
SPENT = "single-use token already used"
REFUSALS = {
    "gateway": f"not permitted: tool:getOrderStatus ({SPENT})",
    "memory": f"not permitted: memory:read:support ({SPENT})",
    "interpreter": f"not permitted: code:exec ({SPENT})",
    "runtime": f"not permitted: run (the run's token: {SPENT})",
    "delegate": f"not permitted: delegation ({SPENT})",
}


def getOrderStatus(order_id: str) -> dict:  # noqa: N802
    """Where an order is."""
    return {"order_id": order_id, "status": "delivered"}


def _graph() -> Graph:
    g = Graph("once")
    g.node("hello", config={"code": "'hello'"})
    return g


def _boundaries(project: Project) -> dict[str, Callable[[str], Any]]:
    identity: Identity = project.services["identity"]
    gateway = project.services["gateway"]
    if "getOrderStatus" not in {t.name for t in gateway.list()}:
        gateway.register_function(getOrderStatus)
    memory = project.services["memory"]
    if "support" not in memory.stats()["namespaces"]:
        memory.add("Refund issued for order 1", namespace="support")
    interp = project.services["interpreter"]
    return {
        "gateway": lambda t: gateway.call("getOrderStatus", {"order_id": "1"}, token=t, session_id=SID),
        "memory": lambda t: memory.search("refund", namespace="support", token=t, session=SID),
        "interpreter": lambda t: interp.list_files(".", session=SID, token=t),
        "runtime": lambda t: project.runtime().run(_graph(), session_id=SID, token=t).raise_for_status(),
        "delegate": lambda t: identity.delegate(t, "helper", "tool:getOrderStatus"),
    }


def _try(call: Callable[[str], Any], token: str) -> str:
    try:
        call(token)
    except NotPermittedError as exc:
        return str(exc)
    return "ok"


def test_runtime_run_accepts_a_single_use_token_once(project: Project, identity: Identity) -> None:
    token = identity.issue("caller", SCOPES, session=SID, once=True)
    runtime = project.runtime()
    assert runtime.run(_graph(), session_id=SID, token=token).raise_for_status().outputs["hello"] == "hello"
    for _ in range(2):
        with pytest.raises(NotPermittedError) as err:
            runtime.run(_graph(), session_id=SID, token=token)
        assert str(err.value) == REFUSALS["runtime"] and token not in str(err.value)


@pytest.mark.parametrize("first", list(REFUSALS))
def test_spent_at_one_boundary_is_spent_at_every_boundary(
    first: str, project: Project, identity: Identity
) -> None:
    boundaries = _boundaries(project)
    token = identity.issue("caller", SCOPES, session=SID, once=True)
    assert _try(boundaries[first], token) == "ok"
    assert {name: _try(call, token) for name, call in boundaries.items()} == REFUSALS


def test_one_boundary_call_spends_once_however_many_checks(project: Project, identity: Identity) -> None:
    """The gateway's executeCode asks for tool:executeCode, then the interpreter for code:exec in
    the session: one call, one use."""
    boundaries = _boundaries(project)
    gateway = project.services["gateway"]
    token = identity.issue("caller", SCOPES, session=SID, once=True)
    out = gateway.call("executeCode", {"code": "print(6 * 7)"}, token=token, session_id=SID)
    assert out["stdout"] == "42\n"
    with pytest.raises(NotPermittedError, match=rf"^not permitted: tool:executeCode \({SPENT}\)$"):
        gateway.call("executeCode", {"code": "print(1)"}, token=token, session_id=SID)
    # a refusal before the use does not spend it (and a failed call after it does not give it back)
    fresh = identity.issue("caller", SCOPES, session=SID, once=True)
    with pytest.raises(NotPermittedError, match=r"token is for another session"):
        gateway.call("getOrderStatus", {"order_id": "1"}, token=fresh, session_id="elsewhere")
    assert _try(boundaries["memory"], fresh) == "ok"


def test_a_token_derived_from_a_single_use_token_is_single_use_and_spends_it(
    project: Project, identity: Identity
) -> None:
    boundaries = _boundaries(project)
    parent = identity.issue("caller", SCOPES, session=SID, once=True)
    # a refused (wider) delegation does not spend the parent ...
    with pytest.raises(NotPermittedError, match=r"not granted to the parent token"):
        identity.delegate(parent, "helper", "tool:refundOrder")
    # ... the first real one does, and makes a single-use child
    child = identity.delegate(parent, "helper", "tool:getOrderStatus memory:read:support")
    assert identity.verify(child).once is True
    assert _try(boundaries["gateway"], parent) == REFUSALS["gateway"]
    assert _try(boundaries["delegate"], parent) == REFUSALS["delegate"]
    assert _try(boundaries["gateway"], child) == "ok"  # the child's one use
    assert _try(boundaries["memory"], child) == REFUSALS["memory"]
    assert _try(boundaries["delegate"], child) == REFUSALS["delegate"]
    # asking for a child that is not single-use does not help
    other = identity.issue("caller", SCOPES, session=SID, once=True)
    grandchild = identity.issue("helper", "tool:getOrderStatus", parent=other, once=False)
    assert identity.verify(grandchild).once is True


PROBE = """
import json, sys
from agentcore_nb import Graph, Runtime
from agentcore_nb.errors import NotPermittedError
from agentcore_nb.identity import Identity
from agentcore_nb.interpreter import Interpreter

home, mode, token, sid = sys.argv[1:5]
g = Graph("once")
g.node("hello", config={"code": "'hello'"})
out = {}

def attempt(name, call):
    try:
        call()
        out[name] = "ok"
    except NotPermittedError as exc:
        out[name] = str(exc)

if mode == "direct":  # the first process holds the DuckDB file: boundaries that do not need it
    identity = Identity(home)
    services = {"identity": identity}
    with Interpreter(home + "/interpreter", services=services) as it, \\
            Runtime(hooks=[identity.hook()], services=services) as rt:
        attempt("interpreter", lambda: it.list_files(".", session=sid, token=token))
        attempt("authorize", lambda: identity.authorize(token, "tool:getOrderStatus", session_id=sid))
        attempt("runtime", lambda: rt.run(g, session_id=sid, token=token).raise_for_status())
        attempt("delegate", lambda: identity.delegate(token, "helper", "tool:getOrderStatus"))
else:  # the whole project: the first process has closed it
    from agentcore_nb.project import Project
    with Project(home) as p:
        attempt("gateway", lambda: p.services["gateway"].call(
            "getOrderStatus", {"order_id": "1"}, token=token, session_id=sid))
        attempt("memory", lambda: p.services["memory"].search(
            "refund", namespace="support", token=token, session=sid))
        attempt("interpreter", lambda: p.services["interpreter"].list_files(
            ".", session=sid, token=token))
        attempt("runtime", lambda: p.runtime().run(g, session_id=sid, token=token).raise_for_status())
        attempt("delegate", lambda: p.services["identity"].delegate(token, "helper", "tool:getOrderStatus"))
print(json.dumps(out))
"""


def _probe(tmp_path: Path, home: Path, mode: str, token: str) -> dict[str, str]:
    script = tmp_path / "once_probe.py"
    script.write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the gateway imports this module's tool there
    done = subprocess.run(
        [sys.executable, str(script), str(home), mode, token, SID],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_spent_in_one_process_is_spent_in_a_process_running_beside_it(
    project: Project, identity: Identity, agentcore_home: Path, tmp_path: Path
) -> None:
    boundaries = _boundaries(project)
    token = identity.issue("caller", SCOPES, session=SID, once=True)
    assert _try(boundaries["gateway"], token) == "ok"  # spent here; this process keeps the project open
    assert _probe(tmp_path, agentcore_home, "direct", token) == {
        "interpreter": REFUSALS["interpreter"],
        "authorize": f"not permitted: tool:getOrderStatus ({SPENT})",
        "runtime": REFUSALS["runtime"],
        "delegate": REFUSALS["delegate"],
    }
    # the other way round: spent over there (its interpreter), refused at every boundary here
    other = identity.issue("caller", SCOPES, session=SID, once=True)
    there = _probe(tmp_path, agentcore_home, "direct", other)
    assert there["interpreter"] == "ok" and set(there.values()) - {"ok"} == {
        REFUSALS["runtime"],
        REFUSALS["delegate"],
        f"not permitted: tool:getOrderStatus ({SPENT})",
    }
    assert {name: _try(call, other) for name, call in boundaries.items()} == REFUSALS


def test_spent_in_one_process_is_spent_in_the_next_one_to_open_the_project(
    agentcore_home: Path, tmp_path: Path
) -> None:
    """The DuckDB file admits one process at a time: the first closes the project, then a second
    opens it and tries the token at every boundary (gateway and memory need the file)."""
    with Project(agentcore_home) as project:
        boundaries = _boundaries(project)
        identity: Identity = project.services["identity"]
        token = identity.issue("caller", SCOPES, session=SID, once=True)
        assert _try(boundaries["memory"], token) == "ok"
    assert _probe(tmp_path, agentcore_home, "project", token) == REFUSALS
    # and back: a token spent by that process is refused here
    with Project(agentcore_home) as project:
        fresh = project.services["identity"].issue("caller", SCOPES, session=SID, once=True)
    used = _probe(tmp_path, agentcore_home, "project", fresh)
    assert used["gateway"] == "ok" and [v for v in used.values() if v == "ok"] == ["ok"]
    with Project(agentcore_home) as project:
        assert {name: _try(call, fresh) for name, call in _boundaries(project).items()} == REFUSALS
