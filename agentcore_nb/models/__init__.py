"""Reasoning providers behind one small interface: ``chat(messages, tools, stream=False)``.

- :class:`OpenAIProvider`: OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, llama.cpp)
- :class:`AnthropicProvider`: Anthropic Messages
- :class:`BedrockProvider`: Amazon Bedrock Converse (``pip install 'agentcore-nb[bedrock]'``)
- :class:`OfflineReasoner`: the default with no key; deterministic, **not an LLM**
- :class:`ReplayProvider`: answers from a recorded run in the event log

``project.services["models"]`` is a :class:`ModelService` (the configured default, ``%model``);
the ``reason`` node kind runs one model call (:mod:`.executor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..project import register_service
from .config import ModelService, build_provider, parse_spec
from .http import Retry
from .offline import OfflineReasoner
from .replay import Recording, ReplayDivergence, ReplayProvider
from .types import (
    KIND_LLM,
    KIND_OFFLINE,
    KIND_REPLAY,
    ChatResponse,
    ChatStream,
    ModelError,
    Provider,
    ToolCall,
    Usage,
    tool_result_message,
)

if TYPE_CHECKING:
    from ..project import Project


def _factory(project: Project) -> ModelService:
    return ModelService(project.home, event_log=lambda: project.event_log)


register_service("models", _factory)


def model_service(services: Mapping[str, Any] | None) -> ModelService:
    """The ``models`` service of ``services``, or one on the environment alone."""
    if services is not None:
        try:
            found = services["models"]
        except KeyError:
            found = None
        if isinstance(found, ModelService):
            return found
    return ModelService(None)


def complete_text(services: Mapping[str, Any] | None, prompt: str, *, max_tokens: int = 512) -> str | None:
    """One completion from the configured model, or ``None`` when no real model is configured
    (the offline reasoner is not one). Used by memory's summary and preference strategies.
    Raises :class:`ModelError` when a configured model fails."""
    provider = model_service(services).default()
    if not provider.is_llm:
        return None
    return provider.chat([{"role": "user", "content": prompt}], max_tokens=max_tokens).text


def __getattr__(name: str) -> Any:
    if name == "OpenAIProvider":
        from .openai import OpenAIProvider

        return OpenAIProvider
    if name == "AnthropicProvider":
        from .anthropic import AnthropicProvider

        return AnthropicProvider
    if name == "BedrockProvider":
        from .bedrock import BedrockProvider

        return BedrockProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KIND_LLM",
    "KIND_OFFLINE",
    "KIND_REPLAY",
    "AnthropicProvider",
    "BedrockProvider",
    "ChatResponse",
    "ChatStream",
    "ModelError",
    "ModelService",
    "OfflineReasoner",
    "OpenAIProvider",
    "Provider",
    "Recording",
    "ReplayDivergence",
    "ReplayProvider",
    "Retry",
    "ToolCall",
    "Usage",
    "build_provider",
    "complete_text",
    "model_service",
    "parse_spec",
    "tool_result_message",
]
