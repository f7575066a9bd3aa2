"""The gateway: JSON-Schema tools behind one call, from Python, HTTP, OpenAPI and MCP targets."""

from __future__ import annotations

from ..project import register_service
from .content import ToolResult
from .gateway import Gateway, Registration, prefixed
from .spec import (
    ToolError,
    ToolInputError,
    ToolOutputError,
    ToolSchemaError,
    ToolSpec,
    ToolTargetError,
    ToolTimeoutError,
    UnknownToolError,
    schema_from_function,
)

register_service("gateway", Gateway)

__all__ = [
    "Gateway",
    "Registration",
    "ToolError",
    "ToolInputError",
    "ToolOutputError",
    "ToolResult",
    "ToolSchemaError",
    "ToolSpec",
    "ToolTargetError",
    "ToolTimeoutError",
    "UnknownToolError",
    "prefixed",
    "schema_from_function",
]
