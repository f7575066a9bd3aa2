"""What leaves the process on a tool call to an HTTP target: the configured auth header and the
request, nothing taken from the environment (no ~/.netrc credentials, no proxy settings, no
variables), checked on the wire by a real server on 127.0.0.1."""

from __future__ import annotations

from .servers import API_KEY, OrdersHandler

ECHO_TOOL = {"name": "echoTool", "description": "Echo.", "inputSchema": {"type": "object"}}


def test_only_the_configured_auth_header_is_sent(gateway, orders_api, monkeypatch, tmp_path):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login leaked-user password netrc-leaked-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # a dead proxy: a call through it would fail
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-should-stay-home")
    auth = {"type": "apiKey", "name": "X-API-Key", "secret": "ORDERSKEY"}
    gateway.register_http(ECHO_TOOL, f"{orders_api.url}/echo", auth=auth)
    assert gateway.call("echoTool", {"q": 1}) == {"echo": {"q": 1}}
    (seen,) = OrdersHandler.seen
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-api-key"] == API_KEY
    assert set(headers) <= {"host", "accept", "accept-encoding", "connection", "user-agent",
                            "content-length", "content-type", "x-api-key"}, headers  # fmt: skip
    wire = " ".join(headers.values())
    assert "netrc-leaked-password" not in wire and "sk-env-should-stay-home" not in wire
    assert not any(k.startswith("proxy") for k in headers) and "authorization" not in headers
