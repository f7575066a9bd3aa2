"""``%model``, ``%%agent``, ``%agent`` and ``%subagent`` in a real Jupyter kernel."""

from __future__ import annotations

import pytest

from tests.helpers.kernel import running_kernel
from tests.models.fakes import FakeOpenAI, Reply

SECRET = "sk-proj-kernel-4b1d9e7c2a5f8e3b"

SETUP = """
ip = get_ipython()
project = ip._agentcore_session.project
for text in ["Refund issued for order 1100 after a late delivery",
             "Refund denied for order 1200: outside the return window",
             "Refund issued for order 1234: item arrived damaged"]:
    project.services["memory"].add(text, namespace="support/refunds")
"""

TOOL = '''%%tool
def getOrderStatus(order_id: str) -> dict:
    """Look up the delivery status of a customer order by its order id."""
    return {"status": "delivered", "timestamp": "2025-10-12T09:33Z"}
'''


@pytest.fixture(scope="module")
def server():
    def brain(body):  # type: ignore[no-untyped-def]
        return Reply(text="Hello from the fake model")

    with FakeOpenAI(brain) as s:
        yield s


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    home = tmp_path_factory.mktemp("agent-kernel-home")
    env = {"AGENTCORE_HOME": str(home), "NO_COLOR": "1", "OPENAI_API_KEY": SECRET, "AGENTCORE_MODEL": ""}
    with running_kernel("python3", env=env) as k:
        assert k.execute("%load_ext agentcore_nb").status == "ok"
        assert k.execute(SETUP).status == "ok"
        tool = k.execute(TOOL)
        assert tool.status == "ok", tool.errors
        yield k


def ok(kernel, code: str):  # type: ignore[no-untyped-def]
    result = kernel.execute(code)
    assert result.status == "ok", (code, result.errors, result.stderr)
    return result


def one_line_error(kernel, code: str) -> str:  # type: ignore[no-untyped-def]
    result = kernel.execute(code)
    assert result.status == "error", code
    (err,) = result.errors
    assert len(err["traceback"]) == 1, err["traceback"]
    return f"{err['ename']}: {err['evalue']}"


def test_model_magic_shows_and_switches_without_showing_keys(kernel, server) -> None:
    shown = ok(kernel, "%model")
    assert "model: offline  (from default)" in shown.stdout
    assert "offline reasoner (not an LLM)" in shown.stdout
    use = ok(kernel, f"%model openai:gpt-test --base-url {server.base_url}")
    assert "model: openai:gpt-test  (from %model)" in use.stdout
    assert "api key: set (OPENAI_API_KEY)" in use.stdout
    ok(kernel, "%%agent greeter\nSay hello.")
    said = ok(kernel, '%agent greeter "hi there"')
    assert said.stdout.startswith("Hello from the fake model\n")
    assert server.headers[-1]["authorization"] == f"Bearer {SECRET}"
    everything = "".join(
        m["content"].get("text", "")
        + str(m["content"].get("data", ""))
        + str(m["content"].get("traceback", ""))
        for r in (shown, use, said)
        for m in r.messages
    )
    assert SECRET not in everything and SECRET[8:] not in everything
    ok(kernel, "%model --reset")
    assert "(from default)" in ok(kernel, "%model").stdout
    assert "unknown model provider 'gpt'" in one_line_error(kernel, "%model gpt:4")
    assert "--base-url and --save need a model name" in one_line_error(kernel, "%model --save")


def test_define_run_and_nest_agents(kernel) -> None:
    define = ok(
        kernel,
        "%%agent support --tools getOrderStatus --memory support/refunds\nYou are a customer-support agent.",
    )
    assert "agent support: model default; tools getOrderStatus; memory support/refunds" in define.stdout
    ok(
        kernel,
        "%%agent billing --memory support/refunds --description 'Answers refund questions from the refund history.'\nYou handle refunds.",
    )
    nested = ok(kernel, "%subagent support billing")
    assert nested.stdout.strip() == "agent support: sub-agents billing"
    listing = ok(kernel, "%agent")
    assert listing.stdout.strip().startswith("agents: billing, ") and "support" in listing.stdout

    run = ok(kernel, '%agent support "Where is my order 1234? Was my refund processed?"')
    out = run.stdout
    assert out.startswith('Answer to "Where is my order 1234? Was my refund processed?":\n')
    assert "- getOrderStatus(order_id=1234): status delivered, timestamp 2025-10-12T09:33Z" in out
    assert "- billing (sub-agent) says:" in out and "Found 3 related refund events" in out
    assert "[no model configured" in out
    trace = out[out.index("trace  succeeded") :]
    assert (
        "invoke_agent support" in trace
        and "  invoke_agent billing" in trace
        and "execute_tool getOrderStatus" in trace
    )
    # several stream messages: the answer arrived in pieces
    assert len(run.of_type("stream")) > 3

    # redefining a parent keeps its sub-agents
    ok(kernel, "%%agent support --tools getOrderStatus --memory support/refunds\nYou are a support agent.")
    assert (
        "billing" in ok(kernel, "%agent support 'Was my refund for order 1234 processed?' --no-trace").stdout
    )
    value = ok(kernel, "_agent_result.ok, _agent_result.usage.output_tokens > 0")
    assert "(True, True)" in value.text()


def test_replay_from_a_cell(kernel) -> None:
    ok(kernel, "%model offline")
    ok(kernel, "%%agent replayer --tools getOrderStatus\nYou look up orders.")
    first = ok(kernel, '%agent replayer "Where is order 1234?" --no-trace')
    run_id = ok(kernel, "print(_agent_result.run_id)").stdout.strip()
    again = ok(
        kernel, f'%agent replayer "Where is order 1234?" --no-trace --replay {run_id[:10]} --replay-tools'
    )
    assert again.stdout == first.stdout
    ok(kernel, "%model --reset")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('%agent nobody "hi"', "no agent named 'nobody'"),
        ("%agent support", "what should it do?"),
        ('%agent support "hi" --tools x', "--tools belongs to the definition"),
        ('%agent support "hi" --replay-tools', "--replay-tools needs --replay RUN_ID"),
        ("%%agent support extra words\nX", "the cell body is the instructions"),
        ("%%agent\nX", "%%agent needs a name"),
        ("%%agent 9lives\nX", "invalid node name '9lives'"),
        ("%%agent bad --tools a --max-steps 0\nX", "must be at least 1"),
        ("%%agent bad --memory 'no spaces'\nX", "memory namespace 'no spaces' is invalid"),
        ("%subagent support support", "cannot be its own sub-agent"),
        ("%subagent support ghost", "no agent named 'ghost'"),
        ('%agent support "hi" --replay deadbeef', "no run 'deadbeef'"),
    ],
)
def test_usage_errors_are_one_line(kernel, code: str, message: str) -> None:
    if "support" in code and "%%agent support" not in code:
        ok(kernel, "%%agent support --tools getOrderStatus\nYou help.")
    assert message in one_line_error(kernel, code)


def test_a_failing_run_is_one_line_with_its_trace(kernel) -> None:
    ok(kernel, "%%agent stuck --tools getOrderStatus --max-steps 1\nYou look up orders.")
    ok(kernel, "%model offline")
    result = kernel.execute('%agent stuck "Where is order 1234?"')
    assert result.status == "error"
    assert "stopped after 1 steps without a final answer (max_steps)" in result.errors[0]["evalue"]
    assert "invoke_agent stuck" in result.stderr
    ok(kernel, "%model --reset")
