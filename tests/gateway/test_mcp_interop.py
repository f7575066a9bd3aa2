"""Interop with public reference MCP servers nobody here wrote: `mcp-server-time` (PyPI) and
`@modelcontextprotocol/server-everything` (npm), each installed by .ci/setup in its own
environment. Text, image, resource and structured results, an error result, a long-running call
with progress, and the environment the server receives (its own report of it)."""

from __future__ import annotations

import json
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb import Graph, Node
from agentcore_nb.gateway import ToolInputError, ToolTargetError
from agentcore_nb.gateway.content import ToolResult, binary_parts
from agentcore_nb.gateway.mcp_client import DEFAULT_ENV

from .servers import EVERYTHING_JS, TIME_SERVER, reference_server

SECRETS = {"OPENAI_API_KEY": "sk-leak-openai-0123456789", "ANTHROPIC_API_KEY": "sk-ant-leak-987654321",
           "AWS_SECRET_ACCESS_KEY": "aws-leak-secret-abcdef", "GITHUB_TOKEN": "ghp_leak_token_42"}  # fmt: skip
GRANTED = "granted-secret-value-7f3a9c"


@pytest.fixture
def everything(gateway, monkeypatch):
    """server-everything registered as `ev` with one plain setting and one secret granted, from a
    process whose environment holds the usual API keys."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EV_TOKEN", GRANTED)
    server = f"node {reference_server(EVERYTHING_JS)}"
    regs = gateway.register_mcp(server, prefix="ev", env={"TZ": "UTC"}, env_secrets=["EV_TOKEN"])
    assert {"ev_echo", "ev_get-env", "ev_get-tiny-image"} <= {r.spec.name for r in regs}
    return gateway


def test_server_everything_receives_only_the_defaults_and_what_was_granted(everything, project):
    env = everything.call("ev_get-env", {})
    assert isinstance(env, dict)
    assert set(env) <= set(DEFAULT_ENV) | {"TZ", "EV_TOKEN"}, sorted(set(env) - set(DEFAULT_ENV))
    assert env["TZ"] == "UTC" and env["EV_TOKEN"] == GRANTED and env["PATH"]
    assert not set(SECRETS) & set(env)
    # the granted secret's value is in no stored byte: registry, events (the env report is an
    # event output, so it is dropped from the check by removing that tool's events first)
    target = everything.get("ev_get-env").target
    assert target["env_secrets"] == ["EV_TOKEN"] and GRANTED not in json.dumps(target)


def test_secret_values_never_reach_the_database_file_or_spans(everything, project, agentcore_home):
    assert everything.call("ev_echo", {"message": "hello"}) == "Echo: hello"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    g = Graph("secret")
    g.add_node(Node("echo", kind="tool", config={"tool": "ev_echo", "arguments": {"message": "hi"}}))
    assert project.runtime(tracer_provider=provider).run(g, {}).outputs["echo"] == "Echo: hi"
    spans = exporter.get_finished_spans()
    assert any(s.name == "execute_tool ev_echo" for s in spans)
    dumped = "".join(s.to_json() for s in spans)
    assert "Starting default" in dumped  # the server's stderr event is there, the secret is not
    assert GRANTED not in dumped and not any(v in dumped for v in SECRETS.values())
    project.close()
    raw = (agentcore_home / "agentcore.duckdb").read_bytes()
    assert b"ev_echo" in raw  # the search below reads the real file
    assert GRANTED.encode() not in raw
    for value in SECRETS.values():
        assert value.encode() not in raw


def test_text_image_and_resource_results_are_kept_whole(everything):
    assert everything.call("ev_echo", {"message": "hi there"}) == "Echo: hi there"
    image = everything.call("ev_get-tiny-image", {})
    assert isinstance(image, ToolResult)
    kinds = [b["type"] for b in image.content]
    assert kinds == ["text", "image", "text"]
    ((kind, mime, png),) = binary_parts(image)
    assert (kind, mime) == ("image", "image/png") and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "[image image/png, " in image.text()
    links = everything.call("ev_get-resource-links", {"count": 2})
    assert [b["type"] for b in links.content].count("resource_link") == 2
    assert all(b["uri"] for b in links.content if b["type"] == "resource_link")
    ref = everything.call("ev_get-resource-reference", {"resourceType": "Text", "resourceId": 1})
    (embedded,) = [b for b in ref.content if b["type"] == "resource"]
    assert embedded["resource"]["uri"] and "text" in embedded["resource"]


def test_structured_results_are_validated_against_the_output_schema(everything):
    spec = everything.get("ev_get-structured-content")
    assert spec.output_schema["required"] == ["temperature", "conditions", "humidity"]
    weather = everything.call("ev_get-structured-content", {"location": "Chicago"})
    assert set(weather) == {"temperature", "conditions", "humidity"}
    with pytest.raises(ToolInputError, match="is not one of"):
        everything.call("ev_get-structured-content", {"location": "Atlantis"})


def test_long_running_call_reports_progress_to_the_caller_and_the_span(everything, project):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen = []
    value = everything.call("ev_trigger-long-running-operation", {"duration": 0.6, "steps": 3},
                            progress=lambda p, t, m: seen.append((p, t)))  # fmt: skip
    assert "completed" in value and seen == [(1, 3), (2, 3), (3, 3)]
    g = Graph("progress")
    g.add_node(Node("op", kind="tool", config={"tool": "ev_trigger-long-running-operation",
                                               "arguments": {"duration": 0.4, "steps": 2}}))  # fmt: skip
    result = project.runtime(tracer_provider=provider).run(g, {})
    assert "completed" in result.outputs["op"]
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool ev_")]
    events = [e for e in span.events if e.name == "mcp.progress"]
    assert [e.attributes["mcp.progress"] for e in events] == [1.0, 2.0]
    assert all(e.attributes["mcp.progress.total"] == 2.0 for e in events)
    stderr = [e for e in span.events if e.name == "mcp.server.stderr"]
    assert stderr and "Starting default (STDIO) server" in stderr[0].attributes["text"]


def test_time_server_structured_results_and_an_error_result(gateway, project):
    server = f"{reference_server(TIME_SERVER)} --local-timezone UTC"
    regs = gateway.register_mcp(server, prefix="time")
    assert {r.spec.name for r in regs} == {"time_get_current_time", "time_convert_time"}
    now = gateway.call("time_get_current_time", {"timezone": "Europe/Oslo"})
    assert now["timezone"] == "Europe/Oslo" and now["datetime"].endswith(("+01:00", "+02:00"))
    converted = gateway.call(
        "time_convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    )
    assert converted["target"]["datetime"][11:16] == "21:00"
    with pytest.raises(ToolTargetError) as err:
        gateway.call("time_get_current_time", {"timezone": "Mars/Olympus"})
    assert str(err.value).startswith("MCP server time: tool get_current_time failed:")
    assert "Mars/Olympus" in str(err.value) and "\n" not in str(err.value)


def test_cli_prints_text_saves_the_image_and_keeps_server_stderr_out(tmp_path, subprocess_env):
    import subprocess

    env = subprocess_env | {"EV_TOKEN": GRANTED, **SECRETS}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "agentcore_nb.cli", "gateway", *args],
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip

    reg = cli("register", "--name", "ev", "--mcp", f"node {reference_server(EVERYTHING_JS)}",
              "--env", "TZ=UTC", "--env-secret", "EV_TOKEN")  # fmt: skip
    assert reg.returncode == 0, reg.stderr
    assert "Starting default" not in reg.stdout + reg.stderr
    out = cli("call", "ev_get-tiny-image", "--save-dir", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:2] == [
        "Here's the image you requested:",
        "The image above is the MCP logo.",
    ]
    saved = tmp_path / "out" / "ev_get-tiny-image-1.png"
    assert f"saved image image/png ({saved.stat().st_size} bytes) to {saved}" in out.stdout
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")  # the bytes, decoded from base64
    assert "Starting default" not in out.stdout + out.stderr
    verbose = cli("call", "ev_echo", "-i", '{"message": "x"}', "--verbose")
    assert "Starting default (STDIO) server" in verbose.stderr and json.loads(verbose.stdout) == "Echo: x"
    shown = cli("show", "ev_get-env")
    receives = json.loads(shown.stdout)["target"]["receives"]["environment"]
    assert receives["settings"] == ["TZ"] and receives["secrets"] == ["EV_TOKEN"]
    assert GRANTED not in shown.stdout and "UTC" not in shown.stdout
    progress = cli("call", "ev_trigger-long-running-operation", "-i", '{"duration": 0.6, "steps": 3}')
    assert progress.returncode == 0 and "3/3" in progress.stderr.replace(".0", "")
