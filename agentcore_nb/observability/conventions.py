"""Span names and attributes in one place: the OpenTelemetry GenAI semantic conventions
(``gen_ai.*``) plus the project's own ``agentcore.*`` keys. Every room names spans through here, so
the trace store, the widgets and an external backend all read the same words.

Content (prompts, completions, tool arguments and results) is recorded only when the user opts in
with ``AGENTCORE_CAPTURE_CONTENT=1``, capped in size, and scrubbed of anything that looks like a
token, key or secret. Identity tokens are never passed here at all.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

# -- operations (gen_ai.operation.name) -------------------------------------------------------------
INVOKE_WORKFLOW = "invoke_workflow"
INVOKE_AGENT = "invoke_agent"
EXECUTE_TOOL = "execute_tool"
CHAT = "chat"
EMBEDDINGS = "embeddings"
SEARCH_MEMORY = "search_memory"
UPDATE_MEMORY = "update_memory"
#: A plain Python node (a custom value, as the conventions allow).
EXECUTE_NODE = "execute_node"
#: A notebook cell run through the runtime.
RUN_CELL = "run_cell"

#: Messaging operations (OpenTelemetry messaging conventions: ``send {topic}``, ``process {topic}``).
SEND = "send"
PROCESS = "process"

#: The operation of a node span, by node kind.
OPERATIONS: dict[str, str] = {
    "python": EXECUTE_NODE,
    "tool": EXECUTE_TOOL,
    "code": EXECUTE_TOOL,
    "reason": CHAT,
    "memory": SEARCH_MEMORY,
    "agent": INVOKE_AGENT,
    "mesh": INVOKE_AGENT,
}

# -- attribute keys -----------------------------------------------------------------------------------
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
CONVERSATION = "gen_ai.conversation.id"
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_CALL_ID = "gen_ai.tool.call.id"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
ERROR_TYPE = "error.type"
EMBEDDING_DIMENSIONS = "gen_ai.embeddings.dimension.count"
SERVER_ADDRESS = "server.address"
#: Deprecated by ``gen_ai.provider.name``; still set on chat spans for older backends.
SYSTEM = "gen_ai.system"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
#: ``gen_ai.tool.type`` of the code interpreter (a tool the agent runs on its side).
TOOL_TYPE_EXTENSION = "extension"

MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_DESTINATION = "messaging.destination.name"
MESSAGING_CONSUMER_GROUP = "messaging.consumer.group.name"
MESSAGING_MESSAGE_ID = "messaging.message.id"
MESSAGING_CONVERSATION_ID = "messaging.message.conversation_id"

RUN_ID = "agentcore.run.id"
GRAPH_NAME = "agentcore.graph.name"
NODE_NAME = "agentcore.node.name"
NODE_KIND = "agentcore.node.kind"
NODE_ID = "agentcore.node.id"
ATTEMPT = "agentcore.attempt"
SESSION_ID = "agentcore.session.id"
CELL_ID = "agentcore.cell.id"
LIMITS_HIT = "agentcore.sandbox.limits_hit"
#: ``agentcore.cell.{key}`` of a cell node's metadata (``id``, ``source_hash``).
CELL_PREFIX = "agentcore.cell."
REROUTED_TO = "agentcore.rerouted_to"
RESUME_UNSAVED = "agentcore.resume.unsaved_names"
AGENT_PARENT = "agentcore.agent.parent"
AGENT_STEPS = "agentcore.agent.steps"
MODEL_KIND = "agentcore.model.kind"
MODEL_NOTE = "agentcore.model.note"
MODEL_TOOL_CALLS = "agentcore.model.tool_calls"
MEMORY_OP = "agentcore.memory.op"
MEMORY_NAMESPACE = "agentcore.memory.namespace"
MESH_MODE = "agentcore.mesh.mode"
MESH_ATTEMPT = "agentcore.mesh.attempt"
CODE_ACTION = "agentcore.code.action"
CODE_LANGUAGE = "agentcore.code.language"
CODE_CPU_MS = "agentcore.code.cpu_ms"
CODE_PEAK_MEMORY = "agentcore.code.peak_memory_bytes"
CODE_SANDBOX = "agentcore.code.sandbox"
IDENTITY_AGENT = "agentcore.identity.agent"
IDENTITY_JTI = "agentcore.identity.jti"
IDENTITY_SCOPES = "agentcore.identity.scopes"
IDENTITY_WITHHELD = "agentcore.identity.withheld"

# -- span events --------------------------------------------------------------------------------------
RETRY_EVENT = "retry"
ACCESS_DENIED_EVENT = "agentcore.access_denied"
#: Attributes of an access-denied event.
DENIED_SCOPE = "agentcore.scope"
DENIED_REASON = "agentcore.reason"
MEMORY_RETRIEVE_EVENT = "memory.retrieve"
MCP_STDERR_EVENT = "mcp.server.stderr"
MCP_SERVER = "mcp.server"
MCP_PROGRESS_EVENT = "mcp.progress"
MCP_PROGRESS = "mcp.progress"
MCP_PROGRESS_TOTAL = "mcp.progress.total"
MCP_PROGRESS_MESSAGE = "mcp.progress.message"

#: The widget's filter groups, by node kind / operation.
KIND_GROUPS: dict[str, str] = {
    "tool": "tool",
    "code": "code",
    "reason": "reasoning",
    "memory": "memory",
    "agent": "agent",
    "cell": "cell",
    "python": "cell",
}
OPERATION_GROUPS: dict[str, str] = {
    EXECUTE_TOOL: "tool",
    CHAT: "reasoning",
    EMBEDDINGS: "memory",
    SEARCH_MEMORY: "memory",
    UPDATE_MEMORY: "memory",
    INVOKE_AGENT: "agent",
    INVOKE_WORKFLOW: "agent",
    RUN_CELL: "cell",
    EXECUTE_NODE: "cell",
}

CONTENT_ENV = "AGENTCORE_CAPTURE_CONTENT"
#: Characters kept of one content attribute (the rest is cut, with a marker).
CONTENT_CAP = 4096


def span_name(operation: str, target: str = "") -> str:
    """``{operation} {target}`` as the conventions name spans (``chat gpt-4o``, ``execute_tool add``)."""
    return f"{operation} {target}" if target else operation


def node_attributes(name: str, kind: str, operation: str) -> dict[str, Any]:
    """The attributes every node span carries from the start."""
    return {OPERATION: operation, NODE_NAME: name, NODE_KIND: kind}


def run_attributes(graph: str, run_id: str, session_id: str) -> dict[str, Any]:
    """The attributes of a run's root span (``invoke_workflow {graph}``): the session both as the
    GenAI conversation and as ``agentcore.session.id``."""
    return {OPERATION: INVOKE_WORKFLOW, GRAPH_NAME: graph, RUN_ID: run_id, CONVERSATION: session_id,
            SESSION_ID: session_id}  # fmt: skip


def embeddings_attributes(provider: str, model: str, dimensions: int) -> dict[str, Any]:
    """The attributes of an ``embeddings {model}`` span (one per batch of texts)."""
    attrs: dict[str, Any] = {OPERATION: EMBEDDINGS, PROVIDER: provider, REQUEST_MODEL: model}
    if dimensions:
        attrs[EMBEDDING_DIMENSIONS] = dimensions
    return attrs


def usage_attributes(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {INPUT_TOKENS: int(input_tokens), OUTPUT_TOKENS: int(output_tokens)}


def group_of(kind: str, operation: str) -> str:
    """The widget's filter group of a span (tool, reasoning, memory, code, agent, cell)."""
    return KIND_GROUPS.get(kind) or OPERATION_GROUPS.get(operation, "cell")


# -- content ------------------------------------------------------------------------------------------
def capture_content() -> bool:
    """True when the user opted in to recording prompts, completions and tool I/O."""
    return os.environ.get(CONTENT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


_SECRET_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs (identity tokens)
    re.compile(r"\b((sk|pk|rk)[-_]|xox[abp]-|gh[po]_)[-_A-Za-z0-9]{12,}"),  # API keys
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)(?P<k>[\"']?(?:api[_-]?key|secret|password|passwd|token|authorization|access[_-]?key)[\"']?"
        r"\s*[:=]\s*)(?P<q>[\"']?)[^\s\"',}]{4,}"
    ),
]
_SECRET_KEYS = re.compile(r"(?i)(api[_-]?key|secret|password|passwd|token|authorization|credential)")


def redact(text: str) -> str:
    """``text`` with anything shaped like a token, key or secret replaced by ``[redacted]``."""
    for pattern in _SECRET_PATTERNS:
        if "k" in pattern.groupindex:
            text = pattern.sub(lambda m: f"{m.group('k')}{m.group('q')}[redacted]", text)
        else:
            text = pattern.sub("[redacted]", text)
    return text


_MARKERS = ("eyJ", "sk-", "sk_", "pk_", "rk_", "xox", "ghp_", "gho_", "AKIA", "ASIA", "earer", "ecret",
            "assw", "oken", "uthoriz", "ey=", "ey:", 'ey"', "ey'", "KEY", "Key")  # fmt: skip


def scrub(value: Any) -> Any:
    """``value`` with secrets taken out: values under secret-like keys (``api_key``, ``password``,
    ``token``, ...) and token- or key-shaped text. Used for spans and for events the log keeps."""
    if isinstance(value, str):
        return redact(value) if any(m in value for m in _MARKERS) else value
    if isinstance(value, Mapping):
        return {k: "[redacted]" if _SECRET_KEYS.search(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


_scrub = scrub


def content_text(value: Any, cap: int = CONTENT_CAP) -> str:
    """``value`` as capped, scrubbed text for a content attribute."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(_scrub(value), default=repr, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    text = redact(text)
    if len(text) > cap:
        text = text[:cap] + f"... [{len(text) - cap} more chars]"
    return text


def content_attributes(**values: Any) -> dict[str, str]:
    """Content attributes (``input_messages=``, ``output_messages=``, ``tool_arguments=``,
    ``tool_result=``) when capture is on; empty otherwise."""
    if not capture_content():
        return {}
    keys = {
        "input_messages": INPUT_MESSAGES,
        "output_messages": OUTPUT_MESSAGES,
        "tool_arguments": TOOL_ARGUMENTS,
        "tool_result": TOOL_RESULT,
    }
    return {keys[k]: content_text(v) for k, v in values.items() if v is not None}
