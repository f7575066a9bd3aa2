"""A misbehaving MCP server (tests/gateway/rogue_mcp.py, raw JSON-RPC): each failure is one line
naming the server, the registry is unchanged, the next call works. Also: its stderr goes to the
project's log (not the caller's output), every content type survives, and cancelling a call (a
node timeout, Ctrl-C) reaches the server as MCP's notifications/cancelled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from agentcore_nb import Graph, Node
from agentcore_nb.gateway import ToolOutputError, ToolSchemaError, ToolTargetError, ToolTimeoutError
from agentcore_nb.gateway.content import ToolResult, check_blocks, display_bundles, save_binaries

from .servers import ROGUE

ROGUE_CMD = f"{sys.executable} {ROGUE}"


@pytest.fixture
def rogue(gateway, tmp_path):
    marker = tmp_path / "marker"
    regs = gateway.register_mcp(f"{ROGUE_CMD} serve", prefix="rogue", env={"ROGUE_MARKER": str(marker)})
    assert len(regs) == 7
    gateway.marker = marker
    return gateway


def _names(gateway):
    return sorted(s.name for s in gateway.registry.current().values())


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("exit", ToolTargetError, "MCP server bad exited at start (its stderr: rogue: fatal: no configuration found)"),
        ("garbage", ToolTargetError,
         "MCP server bad wrote something that is not MCP JSON-RPC to stdout: 'Welcome to rogue server v1.0!'"),
        ("hang", ToolTimeoutError, "MCP server bad did not finish starting (initialize) within 2s"),
    ],
)  # fmt: skip
def test_a_server_that_fails_at_start_is_one_line_and_registers_nothing(rogue, mode, error, message, capfd):
    before = _names(rogue)
    with pytest.raises(error) as err:
        rogue.register_mcp(f"{ROGUE_CMD} {mode}", prefix="bad", startup_timeout=2)
    assert str(err.value) == message
    assert _names(rogue) == before
    assert rogue.call("rogue_noisy", {}) == "quiet answer"  # the next call works
    out, errout = capfd.readouterr()
    assert "rogue:" not in out + errout and "Failed to parse" not in out + errout


def test_a_tool_list_with_one_invalid_schema_registers_nothing(rogue):
    before = _names(rogue)
    with pytest.raises(ToolSchemaError) as err:
        rogue.register_mcp(f"{ROGUE_CMD} badlist", prefix="half")
    assert str(err.value).startswith("MCP server half: tool broken: inputSchema is not a valid JSON Schema")
    assert _names(rogue) == before


def test_sdk_validation_errors_are_one_line():
    import pydantic

    from agentcore_nb.gateway.mcp_client import _explain

    class Listing(pydantic.BaseModel):
        tools: list[dict]

    try:
        Listing.model_validate({"tools": [5]})
    except pydantic.ValidationError as exc:
        line = str(_explain(exc, "srv", "", "listing its tools"))
    assert (
        line
        == "MCP server srv failed listing its tools: ValidationError: invalid Listing at tools.0: Input should be a valid dictionary"
    )


def test_a_registered_server_that_breaks_later_fails_its_calls_in_one_line(rogue, tmp_path):
    script = tmp_path / "switch.py"
    script.write_text(f"import os, runpy, sys\nsys.argv = [sys.argv[0], open({str(tmp_path / 'mode')!r}).read()]\n"
                      f"runpy.run_path({str(ROGUE)!r}, run_name='__main__')\n")  # fmt: skip
    (tmp_path / "mode").write_text("serve")
    rogue.register_mcp(f"{sys.executable} {script}", prefix="sw", startup_timeout=3)
    assert rogue.call("sw_noisy", {}) == "quiet answer"
    (tmp_path / "mode").write_text("garbage")
    with pytest.raises(ToolTargetError, match="^MCP server sw wrote something that is not MCP JSON-RPC"):
        rogue.call("sw_noisy", {})
    (tmp_path / "mode").write_text("exit")
    with pytest.raises(ToolTargetError, match=r"^MCP server sw exited at start \(its stderr: rogue: fatal"):
        rogue.call("sw_noisy", {})
    (tmp_path / "mode").write_text("serve")
    assert rogue.call("sw_noisy", {}) == "quiet answer"


def test_a_server_that_dies_mid_call_is_one_line_with_its_last_words(rogue):
    with pytest.raises(ToolTargetError) as err:
        rogue.call("rogue_die", {})
    assert str(err.value).startswith("MCP server rogue ")
    assert str(err.value).endswith("(its stderr: rogue: segfault in tool die)")
    assert rogue.call("rogue_noisy", {}) == "quiet answer"


def test_cli_failure_is_one_error_line(rogue, subprocess_env):
    rogue.project.close()
    out = subprocess.run([sys.executable, "-m", "agentcore_nb.cli", "gateway", "call", "rogue_bad_image"],
                         env=subprocess_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "error: MCP server rogue: tool bad_image returned image content #0 that is not valid base64"
    ]


def test_invalid_base64_and_a_failed_output_schema_are_one_line(rogue):
    with pytest.raises(ToolOutputError) as err:
        rogue.call("rogue_bad_image", {})
    assert (
        str(err.value)
        == "MCP server rogue: tool bad_image returned image content #0 that is not valid base64"
    )
    with pytest.raises(ToolOutputError) as err:
        rogue.call("rogue_bad_schema", {})
    assert str(err.value) == (
        "MCP server rogue: tool bad_schema returned content that fails its outputSchema: 'hot' is not of type 'number'"
    )
    assert rogue.call("rogue_noisy", {}) == "quiet answer"


def test_every_content_type_survives_with_its_structured_content(rogue, tmp_path):
    result = rogue.call("rogue_rich", {})
    assert isinstance(result, ToolResult) and result.structured == {"n": 7}
    assert [b["type"] for b in result.content] == [
        "text",
        "image",
        "audio",
        "resource_link",
        "resource",
        "resource",
    ]
    paths = save_binaries(result, tmp_path, "rich")
    assert [p.suffix for p in paths] == [".png", ".wav", ".zip"]
    assert paths[0].read_bytes().startswith(b"\x89PNG") and paths[2].read_bytes() == b"PK\x05\x06"
    bundles = display_bundles(result)
    assert bundles[1]["image/png"] == result.content[1]["data"]
    assert bundles[2]["text/html"].startswith('<audio controls src="data:audio/wav;base64,')
    assert 'href="file:///data/report.csv"' in bundles[3]["text/html"]
    assert "a note" in bundles[4]["text/plain"] and bundles[-1]["application/json"] == {"n": 7}
    events = [e for e in rogue.project.event_log.events() if getattr(e, "action", "") == "tool:rogue_rich"]
    assert events[-1].output["content"][1]["data"] == result.content[1]["data"]  # stored whole
    with pytest.raises(ToolOutputError, match="resource content #0 that is not valid base64"):
        check_blocks([{"type": "resource", "resource": {"uri": "x:", "blob": "%%%"}}], "t")


def test_server_stderr_goes_to_the_project_log_not_the_output(rogue, capfd, agentcore_home):
    import io

    assert rogue.call("rogue_noisy", {}) == "quiet answer"
    out, err = capfd.readouterr()
    assert "noisy:" not in out + err
    log = (agentcore_home / "logs" / "mcp-servers.log").read_text()
    assert "server rogue stderr:\nnoisy: warming up\nnoisy: done\n" in log
    echo = io.StringIO()
    rogue.call("rogue_noisy", {}, echo=echo)
    assert echo.getvalue() == "noisy: warming up\nnoisy: done\n"


def test_the_environment_is_minimal_plus_granted(rogue, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("ROGUE_SECRET", "s3cr3t-value")
    rogue.register_mcp(
        f"{ROGUE_CMD} serve", prefix="granted", env={"MODE": "x"}, env_secrets=["ROGUE_SECRET"]
    )
    env = rogue.call("granted_env", {})
    # LC_CTYPE: the server's own Python sets it at start (PEP 538 locale coercion), not us
    assert set(env) - {"LC_CTYPE"} <= {
        "HOME",
        "LOGNAME",
        "PATH",
        "SHELL",
        "TERM",
        "USER",
        "MODE",
        "ROGUE_SECRET",
    }
    assert env["ROGUE_SECRET"] == "s3cr3t-value" and "OPENAI_API_KEY" not in env
    monkeypatch.delenv("ROGUE_SECRET")
    with pytest.raises(ToolTargetError) as err:
        rogue.call("granted_env", {})
    assert str(err.value).startswith("MCP server granted: secret 'ROGUE_SECRET' is not set")
    (tmp_path / "secrets.json").write_text('{"ROGUE_SECRET": "from-the-file"}')
    monkeypatch.setenv("AGENTCORE_SECRETS", str(tmp_path / "secrets.json"))
    assert rogue.call("granted_env", {})["ROGUE_SECRET"] == "from-the-file"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": {"A": "1"}, "server": "http://127.0.0.1:9/mcp"}, "apply to stdio servers"),
    ],
)
def test_bad_registrations(gateway, kwargs, message):
    server = kwargs.pop("server")
    with pytest.raises(ToolSchemaError, match=message):
        gateway.register_mcp(server, prefix="x", **kwargs)


def test_parse_env_refuses_malformed_grants():
    from agentcore_nb.gateway.mcp_client import parse_env

    assert parse_env(["TZ=UTC", "EMPTY="], ["TOKEN"]) == ({"TZ": "UTC", "EMPTY": ""}, ["TOKEN"])
    for pairs, secrets, message in [(["TZ"], [], "NAME=VALUE"), (["1X=a"], [], "NAME=VALUE"),
                                    ([], ["BAD-NAME"], "variable name"), (["T=1"], ["T"], "both")]:  # fmt: skip
        with pytest.raises(ToolSchemaError, match=message):
            parse_env(pairs, secrets)


def _wait_for(path, text, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}: {path.read_text() if path.exists() else '-'}")


def test_a_node_timeout_cancels_the_call_on_the_server(rogue, project):
    from agentcore_nb.graph.policy import Policy

    g = Graph("cancel")
    g.add_node(Node("slow", kind="tool", config={"tool": "rogue_slow", "arguments": {"steps": 1}},
                    policy=Policy(timeout=1.5)))  # fmt: skip
    result = project.runtime().run(g, {})
    assert "timed out after 1.5s" in result.errors["slow"]
    assert "cancelled" in _wait_for(rogue.marker, "cancelled")


def test_ctrl_c_in_the_cli_cancels_the_call_on_the_server(rogue, subprocess_env, agentcore_home):
    rogue.project.close()
    proc = subprocess.Popen([sys.executable, "-m", "agentcore_nb.cli", "gateway", "call", "rogue_slow"],
                            env=subprocess_env | {"PYTHONFAULTHANDLER": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait_for(rogue.marker, "started")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=10)
        raise AssertionError(err[-5000:]) from None
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "cancelled" in _wait_for(rogue.marker, "cancelled")
    assert os.path.exists(agentcore_home / "agentcore.duckdb")
