"""`agentcore gateway` as a user types it (the seed's command verbatim) and %tool / %%tool in a
real kernel."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers.kernel import running_kernel

from .servers import API_KEY, HERE

CRM_SCHEMA = {
    "name": "crmTool",
    "description": "Look up a customer in the CRM by id.",
    "inputSchema": {
        "type": "object",
        "properties": {"customer_id": {"type": "string"}},
        "required": ["customer_id"],
    },
    "outputSchema": {"type": "object"},
}


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "agentcore_nb.cli", "gateway", *args],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_seed_command_verbatim(tmp_path, subprocess_env):
    (tmp_path / "crm_schema.json").write_text(json.dumps(CRM_SCHEMA))
    env = subprocess_env
    out = subprocess.run("agentcore gateway register --name crmTool --schema crm_schema.json", shell=True,
                         cwd=tmp_path, env=env | {"PATH": f"{sys.prefix}/bin:{env['PATH']}"},
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "registered crmTool@1" in out.stdout and "no target yet" in out.stdout
    listed = cli("list", env=env)
    assert "crmTool@1" in listed.stdout and "executeCode" in listed.stdout
    called = cli("call", "crmTool", "--input", '{"customer_id": "c-1"}', env=env)
    assert called.returncode == 1 and called.stderr.startswith("error: tool crmTool has no target yet")
    bad = cli("call", "crmTool", "--input", '{"customer_id": 7}', env=env)
    assert bad.returncode == 1 and "input.customer_id: 7 is not of type 'string'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_openapi_register_call_show_search_remove(subprocess_env, orders_api):
    env = subprocess_env | {"ORDERSKEY": API_KEY}
    reg = cli("register", "--openapi", str(HERE / "orders_api.yaml"), "--base-url", orders_api.url, env=env)
    assert reg.returncode == 0, reg.stderr
    assert "registered getOrderStatus@1" in reg.stdout
    called = cli("call", "getOrderStatus", "-i", '{"order_id": "1234"}', env=env)
    assert json.loads(called.stdout)["status"] == "delivered"
    shown = json.loads(cli("show", "getOrderStatus", env=env).stdout)
    assert shown["target"]["auth"] == {"type": "apiKey", "secret": "ORDERSKEY"} and API_KEY not in json.dumps(
        shown
    )
    assert cli("search", "where is my parcel", env=env).stdout.split()[1] == "getOrderStatus"
    assert "removed createRefund (1 version)" in cli("remove", "createRefund", env=env).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["register", "--name", "t", "--schema", "missing.json"], "cannot read missing.json"),
        (["register", "--name", "t", "--url", "ftp://x"], "must be an http(s) URL"),
        (["register", "--name", "t", "--python", "nomodule:fn"], "cannot be imported"),
        (["call", "nope"], "unknown tool 'nope'"),
        (["call", "executeCode", "-i", "{oops"], "--input is not JSON"),
        (["register", "--openapi", str(HERE / "servers.py")], "is not valid YAML"),
    ],
)
def test_cli_bad_input_is_one_line(subprocess_env, args, message):
    out = cli(*args, env=subprocess_env)
    assert out.returncode == 1
    assert message in out.stderr and out.stderr.startswith("error:") and "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    home = tmp_path_factory.mktemp("gateway-kernel")
    with running_kernel("agentcore", env={"AGENTCORE_HOME": str(home), "NO_COLOR": "1"}) as k:
        yield k


def test_tool_cell_defines_and_line_magic_calls(kernel):
    r = kernel.execute(
        '%%tool\ndef getOrderStatus(order_id: str) -> dict:\n    """Where an order or parcel is."""\n'
        '    return {"order_id": order_id, "status": "delivered"}\n'
    )
    assert r.status == "ok" and "registered tool getOrderStatus@1" in r.stdout
    called = kernel.execute('%tool call getOrderStatus \'{"order_id": "1234"}\'')
    assert called.status == "ok" and "'status': 'delivered'" in called.data[0]["text/plain"]
    listed = kernel.execute("%tool list")
    assert "getOrderStatus@1" in listed.data[0]["text/plain"]
    found = kernel.execute("%tool search where is my parcel")
    assert found.data[0]["text/plain"].splitlines()[1].split()[1] == "getOrderStatus"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%%tool\nx = 1\n", "the cell defines no function"),
        ("%%tool\ndef f(:\n", "syntax error"),
        ("%tool call getOrderStatus '{\"order_id\": 5}'", "input.order_id: 5 is not of type 'string'"),
        ("%tool call nope", "unknown tool 'nope'"),
        ("%tool call getOrderStatus '{bad'", "arguments are not JSON"),
        ("%tool fly", "unknown action 'fly'"),
    ],
)
def test_tool_magic_bad_input_is_one_line(kernel, code, message):
    kernel.execute('%%tool\ndef getOrderStatus(order_id: str) -> dict:\n    """Where."""\n    return {}\n')
    r = kernel.execute(code)
    assert r.status == "error"
    assert message in r.errors[0]["evalue"] and len(r.errors[0]["traceback"]) <= 2
