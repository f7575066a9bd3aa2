"""The interpreter's built-in gateway tools, called the way the gateway calls them."""

from __future__ import annotations

import base64

import jsonschema
import pytest

from agentcore_nb.errors import NotPermittedError
from agentcore_nb.interpreter import Interpreter, InterpreterError
from agentcore_nb.interpreter.tool import builtin_tools

from .test_sessions import AI_OPS, METRICS_CSV


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    interp = Interpreter(tmp_path_factory.mktemp("tools"))
    found = {t["name"]: t for t in builtin_tools()}
    yield found, {"interpreter": interp}
    interp.close()


def call(tools, name, arguments, session_id="agent-session-1", token=None):
    found, services = tools
    tool = found[name]
    jsonschema.validate(arguments, tool["inputSchema"])  # what the gateway checks before calling
    out = tool["handler"](arguments, services=services, token=token, session_id=session_id)
    jsonschema.validate(out, tool["outputSchema"])  # and after
    return out


def test_tools_are_shaped_like_agentcores_code_interpreter(tools):
    found, _ = tools
    assert list(found) == [
        "executeCode",
        "executeCommand",
        "writeFiles",
        "readFiles",
        "listFiles",
        "removeFiles",
    ]
    for tool in found.values():
        assert tool["description"] and callable(tool["handler"])
        jsonschema.Draft202012Validator.check_schema(tool["inputSchema"])
        jsonschema.Draft202012Validator.check_schema(tool["outputSchema"])
    assert found["executeCode"]["inputSchema"]["properties"]["language"]["enum"] == [
        "python",
        "javascript",
        "r",
    ]


def test_ai_ops_example_through_tool_calls(tools):
    written = call(tools, "writeFiles", {"content": [{"path": "metrics.csv", "text": METRICS_CSV}]})
    assert written == {"files": [{"path": "metrics.csv", "size": len(METRICS_CSV)}]}
    out = call(tools, "executeCode", {"language": "python", "code": AI_OPS})
    assert out["isError"] is False and out["exitCode"] == 0
    data = out["results"][0]["data"]
    assert "rolling_avg" in data["text/html"]
    assert data["application/vnd.dataresource+json"]["data"][-1]["ts"] == 39
    assert out["sandbox"] == "bubblewrap" and out["sessionName"] == "agent-session-1"
    again = call(tools, "executeCode", {"code": "len(df)"})  # same conversation, same variables
    assert again["results"][0]["data"]["text/plain"] == "40"
    other = call(tools, "executeCode", {"code": "len(df)"}, session_id="agent-session-2")
    assert other["isError"] and other["error"]["name"] == "NameError"


def test_file_and_command_tools(tools):
    blob = base64.b64encode(b"\x00\x01binary").decode()
    call(tools, "writeFiles", {"content": [{"path": "in/x.bin", "blob": blob}], "sessionName": "files-tool"})
    listed = call(tools, "listFiles", {"directoryPath": "in", "sessionName": "files-tool"})
    assert [f["path"] for f in listed["files"]] == ["in/x.bin"]
    cmd = call(tools, "executeCommand", {"command": "wc -c < in/x.bin", "sessionName": "files-tool"})
    assert cmd["stdout"].strip() == "8" and not cmd["isError"]
    read = call(tools, "readFiles", {"paths": ["in/x.bin"], "sessionName": "files-tool"})
    assert base64.b64decode(read["files"][0]["blob"]) == b"\x00\x01binary"
    removed = call(tools, "removeFiles", {"paths": ["in"], "sessionName": "files-tool"})
    assert removed == {"files": [{"path": "in", "removed": True}]}
    failing = call(tools, "executeCommand", {"command": "exit 3", "sessionName": "files-tool"})
    assert failing["isError"] and failing["exitCode"] == 3


def test_limits_and_errors_reach_the_agent_as_results(tools):
    out = call(tools, "executeCode", {"code": "import time\ntime.sleep(10)", "timeout": 0.5})
    assert out["isError"] and out["limitsHit"] == ["wall_time"]
    assert out["error"]["name"] == "TimeoutError"


def test_tools_ask_identity_for_code_exec(tmp_path):
    class Identity:
        def authorize(self, token, scope, *, session_id=None):
            if token != "good" or scope != "code:exec":
                raise NotPermittedError(f"not permitted: {scope}")

    with Interpreter(tmp_path / "authz", services={"identity": Identity()}) as interp:
        services = {"interpreter": interp}
        tool = {t["name"]: t for t in builtin_tools()}["executeCode"]
        with pytest.raises(NotPermittedError, match="code:exec"):
            tool["handler"]({"code": "1"}, services=services, token="bad", session_id="s")
        out = tool["handler"]({"code": "1 + 1"}, services=services, token="good", session_id="s")
        assert out["results"][0]["data"]["text/plain"] == "2"


def test_without_the_service_the_tools_say_so():
    tool = builtin_tools()[0]
    with pytest.raises(InterpreterError, match="need the 'interpreter' service"):
        tool["handler"]({"code": "1"}, services={}, token=None, session_id=None)
