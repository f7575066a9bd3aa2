"""Attacks on session isolation at the interpreter: a ``code:exec`` token of one conversation tries
to reach another conversation's sandbox through the Python API, the gateway's built-in tools and
``code`` nodes, in this process and from a second one. Each is refused in one line, recorded as an
``AccessDenied`` event, and the victim's files stay unread and intact."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentcore_nb import Graph
from agentcore_nb.errors import NotPermittedError
from agentcore_nb.events import AccessDenied
from agentcore_nb.identity import Identity
from agentcore_nb.project import Project

SECRET = "VICTIM-SECRET"
ANOTHER = "not permitted: code:exec (token is for another session)"


@pytest.fixture
def interp(project: Project) -> Any:
    return project.services["interpreter"]


def _denied(project: Project) -> list[AccessDenied]:
    project.event_log.flush()
    return [e for e in project.event_log.events(types=["AccessDenied"]) if isinstance(e, AccessDenied)]


def _attempts(interp: Any, session: str, token: str) -> dict[str, Any]:
    """Every interpreter operation on ``session``; each returns what it got or the refusal."""
    calls = {
        "read_files": lambda: interp.read_files(["secret.txt"], session=session, token=token),
        "list_files": lambda: interp.list_files(".", session=session, token=token),
        "write_files": lambda: interp.write_files(
            [{"path": "secret.txt", "text": "overwritten"}], session=session, token=token
        ),
        "remove_files": lambda: interp.remove_files(["secret.txt"], session=session, token=token),
        "execute_code": lambda: interp.execute_code(
            "print(open('secret.txt').read())", session=session, token=token
        ),
        "execute_command": lambda: interp.execute_command("cat secret.txt", session=session, token=token),
        "stop_session": lambda: interp.stop_session(session, token=token),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        try:
            out[name] = call()
        except NotPermittedError as exc:
            out[name] = str(exc)
    return out


def test_a_code_exec_token_cannot_open_another_conversations_sandbox(
    project: Project, identity: Identity, interp: Any
) -> None:
    victim = identity.issue("victim", "code:exec", session="conv-victim")
    vs = identity.verify(victim).session
    interp.write_files([{"path": "secret.txt", "text": SECRET}], session=vs, token=victim)
    interp.write_files([{"path": "secret.txt", "text": SECRET}], session="notes", token=victim)  # claimed
    attacker = identity.issue("attacker", "code:exec", session="conv-attacker")
    before = len(_denied(project))
    for session in (vs, "notes", f"run-{vs}"):
        got = _attempts(interp, session, attacker)
        assert got == dict.fromkeys(got, ANOTHER), (session, got)
        assert attacker not in json.dumps(got)
    # the victim's sandboxes are untouched and still the victim's
    for session in (vs, "notes"):
        (read,) = interp.read_files(["secret.txt"], session=session, token=victim)
        assert read["text"] == SECRET
    # every refusal is an AccessDenied event naming the attacker, never the token
    denied = _denied(project)[before:]
    assert len(denied) == 21
    assert {(e.scope, e.reason, e.agent, e.session_id) for e in denied} == {
        ("code:exec", "token is for another session", "attacker", "conv-attacker")
    }
    assert all(e.jti == identity.verify(attacker).jti for e in denied)
    assert not any(attacker in e.to_json() or victim in e.to_json() for e in denied)


def test_what_a_token_holds_and_the_local_owner(project: Project, identity: Identity, interp: Any) -> None:
    token = identity.issue("bot", "code:exec", session="conv-bot")
    # its own conversation's names, and names it was first to use
    for session in ("conv-bot", "run-conv-bot", "scratch"):
        interp.write_files([{"path": "a.txt", "text": session}], session=session, token=token)
        assert interp.read_files(["a.txt"], session=session, token=token)[0]["text"] == session
    # the local owner (no token) reaches every session, as before
    assert interp.read_files(["a.txt"], session="scratch")[0]["text"] == "scratch"
    interp.write_files([{"path": "mine.txt", "text": "owner"}], session="owners-own")
    with pytest.raises(
        NotPermittedError, match=r"^not permitted: code:exec \(token is for another session\)$"
    ):
        interp.read_files(["mine.txt"], session="owners-own", token=token)  # the owner's, not the token's
    interp.session("started-by-owner")  # the owner's own handle on a session: not claimable either
    with pytest.raises(NotPermittedError, match=r"token is for another session"):
        interp.list_files(".", session="started-by-owner", token=token)
    # a stopped session's name is free again; its files went with it
    assert interp.stop_session("scratch", token=token) is True
    other = identity.issue("other", "code:exec", session="conv-other")
    assert interp.list_files(".", session="scratch", token=other) == []


def test_through_the_gateway_built_in_tools(project: Project, identity: Identity, interp: Any) -> None:
    gateway = project.services["gateway"]
    tools = "tool:readFiles tool:writeFiles tool:listFiles tool:removeFiles tool:executeCode code:exec"
    victim = identity.issue("victim", tools, session="conv-v")
    gateway.call(
        "writeFiles", {"content": [{"path": "secret.txt", "text": SECRET}]}, token=victim, session_id="conv-v"
    )
    attacker = identity.issue("attacker", tools, session="conv-a")
    for tool, args in (
        ("readFiles", {"paths": ["secret.txt"]}),
        ("listFiles", {}),
        ("removeFiles", {"paths": ["secret.txt"]}),
        ("writeFiles", {"content": [{"path": "secret.txt", "text": "x"}]}),
        ("executeCode", {"code": "print(open('secret.txt').read())"}),
    ):
        # naming the victim's sandbox with sessionName: the interpreter refuses
        for name in ("conv-v", "run-conv-v"):
            with pytest.raises(Exception) as err:
                gateway.call(tool, {**args, "sessionName": name}, token=attacker, session_id="conv-a")
            assert "not permitted: code:exec (token is for another session)" in str(err.value)
            assert SECRET not in str(err.value) and attacker not in str(err.value)
        # claiming to be in the victim's conversation: the gateway refuses
        with pytest.raises(NotPermittedError, match=rf"^not permitted: tool:{tool} \(token is for another"):
            gateway.call(tool, args, token=attacker, session_id="conv-v")
    out = gateway.call("readFiles", {"paths": ["secret.txt"]}, token=victim, session_id="conv-v")
    assert out["files"][0]["text"] == SECRET


def test_code_nodes_cannot_name_another_conversations_session(
    project: Project, identity: Identity, interp: Any
) -> None:
    victim = identity.issue("victim", "code:exec", session="conv-victim")
    interp.write_files([{"path": "secret.txt", "text": SECRET}], session="conv-victim", token=victim)
    interp.write_files([{"path": "secret.txt", "text": SECRET}], session="shared-name", token=victim)
    attacker = identity.issue("attacker", "code:exec", session="conv-attacker")
    g = Graph("snoop")
    read = "print(open('secret.txt').read())"
    g.node("own", kind="code", config={"code": "print('mine')"})  # run-conv-attacker: its own
    for i, name in enumerate(("conv-victim", "run-conv-victim", "shared-name")):
        g.node(f"steal{i}", kind="code", config={"code": read, "session": name})
    result = project.runtime().run(g, session_id="conv-attacker", token=attacker)
    assert result.outputs["own"]["stdout"] == "mine\n"
    assert result.errors == {f"steal{i}": ANOTHER for i in range(3)}
    assert SECRET not in json.dumps([e.to_json() for e in project.event_log.events(result.run_id)])
    denied = [e for e in project.event_log.events(result.run_id) if isinstance(e, AccessDenied)]
    assert sorted(e.node_id for e in denied) == ["steal0", "steal1", "steal2"]
    assert {e.reason for e in denied} == {"token is for another session"}


def test_a_session_the_owner_stages_inside_a_run_belongs_to_that_runs_conversation(
    project: Project, identity: Identity, interp: Any
) -> None:
    """An exported notebook's python cell writes files untokened; the run's code node (its token is
    for the run's conversation) uses them; another conversation's token still cannot."""

    def stage() -> str:
        interp.write_files([{"path": "data.txt", "text": "staged"}], session="staging")
        return "ok"

    g = Graph("stage-then-use")
    g.node("stage", stage)
    g.node("use", kind="code", config={"code": "print(open('data.txt').read())", "session": "staging"},
           after=["stage"])  # fmt: skip
    owner_run = identity.issue("owner", "code:exec", session="conv-owner")
    result = project.runtime().run(g, session_id="conv-owner", token=owner_run)
    assert result.ok, result.errors
    assert result.outputs["use"]["stdout"] == "staged\n"
    other = identity.issue("attacker", "code:exec", session="conv-other")
    assert _attempts(interp, "staging", other)["read_files"] == ANOTHER


PROBE = """
import json, sys
from agentcore_nb.errors import AgentcoreError
from agentcore_nb.identity import Identity
from agentcore_nb.interpreter import Interpreter

home, token, session = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
# the first process holds the DuckDB file: this one uses the interpreter and identity directly
with Interpreter(home + "/interpreter", services={"identity": Identity(home)}) as it:
    for name, call in (
        ("read", lambda: it.read_files(["secret.txt"], session=session, token=token)),
        ("code", lambda: it.execute_command("cat secret.txt; ls", session=session, token=token)),
    ):
        try:
            got = call()
            out[name] = json.dumps(got, default=lambda r: r.to_dict())
        except AgentcoreError as exc:
            out[name] = str(exc)
print(json.dumps(out))
"""


def test_from_a_second_process(
    project: Project, identity: Identity, interp: Any, agentcore_home: Path, tmp_path: Path
) -> None:
    """A second process of the project (the first still running, its victim sandboxes alive):
    names of the victim's conversation are refused there too, and any other name is an empty
    sandbox of that process's own."""
    victim = identity.issue("victim", "code:exec", session="conv-victim")
    interp.write_files([{"path": "secret.txt", "text": SECRET}], session="run-conv-victim", token=victim)
    interp.write_files([{"path": "secret.txt", "text": SECRET}], session="conv-victim", token=victim)
    attacker = identity.issue("attacker", "code:exec", session="conv-attacker")
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    results = {}
    for session in ("run-conv-victim", "conv-victim"):
        done = subprocess.run(
            [sys.executable, str(script), str(agentcore_home), attacker, session],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        results[session] = json.loads(done.stdout.splitlines()[-1])
    assert results["run-conv-victim"] == {"read": ANOTHER, "code": ANOTHER}
    assert SECRET not in json.dumps(results)
    assert "No such file" in results["conv-victim"]["code"] or "not found" in results["conv-victim"]["read"]
    # the victim's files were there all along
    assert interp.read_files(["secret.txt"], session="conv-victim", token=victim)[0]["text"] == SECRET
