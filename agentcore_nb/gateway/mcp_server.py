"""``agentcore gateway serve-mcp``: the registry's tools for any MCP client (stdio or streamable HTTP).

Calls go through :meth:`Gateway.acall`, so validation, scopes, spans and events are the same as in
a notebook or a deployed graph. A tool error comes back as an MCP error result with its one line.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent
from mcp_types import Tool as MCPTool

from .gateway import Gateway
from .spec import ToolError


class GatewayMCPServer(MCPServer):  # type: ignore[misc]
    def __init__(self, gateway: Gateway, *, token: str | None = None) -> None:
        super().__init__(
            name="agentcore-gateway", instructions="Tools of an agentcore-nb project.", log_level="WARNING"
        )
        self.gateway = gateway
        self.token = token

    async def list_tools(self) -> list[MCPTool]:
        return [
            MCPTool(
                name=t.name,
                description=t.description,
                input_schema=t.input_schema,
                output_schema=t.output_schema,
            )
            for t in self.gateway.list()
        ]

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        try:
            return self.gateway.get(name).input_schema
        except ToolError:
            return None

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> CallToolResult:
        try:
            value = await self.gateway.acall(name, arguments or {}, token=self.token)
        except Exception as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        text = value if isinstance(value, str) else json.dumps(value, default=repr)
        structured = value if isinstance(value, dict) else {"result": value}
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def serve(gateway: Gateway, *, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765,
          token: str | None = None, auth: Any = None, project: Any = None) -> None:  # fmt: skip
    """Serve the tools; over HTTP behind bearer auth (``tool:*``) when it listens beyond loopback
    or tokens are required (``agentcore_nb.serve.auth``)."""
    server = GatewayMCPServer(gateway, token=token)
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    from ..serve.auth import protect
    from ..serve.config import AuthConfig
    from ..serve.server import bind

    sock = bind(host, port)  # a port in use is one line
    app = protect(server.streamable_http_app(host=host), host, auth or AuthConfig(), project,
                  scope="tool:*", realm="agentcore-mcp")  # fmt: skip
    print(f"agentcore gateway: MCP listening on http://{host}:{sock.getsockname()[1]}/mcp", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
