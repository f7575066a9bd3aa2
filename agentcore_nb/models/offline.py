"""The offline reasoner: the default when no model is configured. It is NOT a language model.

It works deterministically from what the conversation literally contains:

1. **Pick tools** by semantic match between the request and each tool's name, description and
   parameters (the memory embedder when available, else a small lexical matcher). Tools close
   to the best match are called together, concurrently.
2. **Fill arguments** from the request, guided by the input schema (:mod:`.slots`): ids, numbers,
   quoted strings, enum values. A tool whose required arguments are not in the request is not
   called; the answer says what was missing.
3. **Re-route** once when a tool failed: the next best matching tool is tried.
4. **Compose the answer** from tool results and memory hits.

Every span and response it produces says ``offline reasoner (not an LLM)``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..memory.embedders import STOPWORDS
from ..memory.embedders import words as content_words
from .slots import fill_arguments, schema_errors
from .types import KIND_OFFLINE, ChatResponse, Provider, ToolCall, Usage

_GENERIC = frozenset(["get", "set", "do", "run", "call", "make", "fetch", "tool", "agent", "the", "a", "an"])
_STOP = STOPWORDS | {"please", "tell", "show", "give", "about"}
MAX_PARALLEL = 3


def words(text: str) -> list[str]:
    return content_words(text, _STOP)


class _Lexical:
    """Cosine of stemmed word counts: the fallback when the memory embedder is not installed."""

    name = "lexical"

    def similarity(self, a: str, b: str) -> float:
        ca, cb = Counter(words(a)), Counter(words(b))
        dot = sum(ca[w] * cb[w] for w in ca)
        norm = math.sqrt(sum(v * v for v in ca.values())) * math.sqrt(sum(v * v for v in cb.values()))
        return dot / norm if norm else 0.0


class _Embedded:
    """Cosine similarity from the memory embedder; tool texts are embedded once (bounded cache)."""

    def __init__(self, embedder: Any, cache_size: int = 1024) -> None:
        self.embedder = embedder
        self.name = getattr(embedder, "name", "embedder")
        self._cache: dict[str, Any] = {}
        self._size = cache_size
        self._lock = threading.Lock()

    def _vector(self, text: str) -> Any:
        with self._lock:
            found = self._cache.get(text)
        if found is None:
            from ..memory.embedders import embed

            found = embed(self.embedder, [text])[0]
            with self._lock:
                if len(self._cache) >= self._size:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[text] = found
        return found

    def similarity(self, a: str, b: str) -> float:
        return float((self._vector(a) * self._vector(b)).sum())


def _matcher() -> Any:
    try:
        from ..memory.embedders import get_embedder
    except ImportError:
        return _Lexical()
    try:
        return _Embedded(get_embedder())
    except Exception:
        return _Lexical()


def tool_text(tool: dict[str, Any]) -> str:
    """What a tool is matched on: its name (camelCase split), description and parameters."""
    schema = tool.get("inputSchema") or {}
    params = []
    for name, sub in (schema.get("properties") or {}).items():
        params.append(name)
        if isinstance(sub, dict) and sub.get("description"):
            params.append(str(sub["description"]))
    return " ".join([tool["name"], tool.get("description", ""), *params])


def _as_value(content: str) -> Any:
    try:
        return json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return content


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_call(call: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={_short(v, 40)}" for k, v in (call.get("arguments") or {}).items())
    return f"{call['name']}({args})"


def describe_result(value: Any) -> str:
    if isinstance(value, dict):
        if isinstance(value.get("answer"), str):
            return value["answer"].strip()
        if isinstance(value.get("error"), str) and len(value) <= 2:
            return f"failed: {value['error']}"
        parts = [f"{k} {_short(v, 60)}" for k, v in value.items() if not isinstance(v, (dict, list))]
        nested = [k for k, v in value.items() if isinstance(v, (dict, list))]
        if nested:
            parts.append("also " + ", ".join(nested))
        return ", ".join(parts) or "(empty result)"
    if isinstance(value, list):
        return f"{len(value)} item(s): " + _short(value)
    return _short(value)


def _answer_lines(answer: str) -> list[str]:
    """A sub-agent's answer without its own "Answer to ..." header."""
    lines = [ln for ln in answer.strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith('Answer to "') and lines[0].endswith(":"):
        lines = lines[1:]
    return lines or ["(no answer)"]


def _estimate(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


class OfflineReasoner(Provider):
    """Deterministic tool picking and answer composition. Not an LLM; labelled as such everywhere."""

    name = "offline"
    kind = KIND_OFFLINE

    def __init__(self, *, threshold: float = 0.1, model: str = "offline-reasoner") -> None:
        self.model = model
        self.threshold = threshold
        self._matcher: Any = None

    @property
    def matcher(self) -> Any:
        if self._matcher is None:
            self._matcher = _matcher()
        return self._matcher

    # ------------------------------------------------------------------ scoring
    def score(self, request: str, tool: dict[str, Any]) -> float:
        """Similarity of the request to a tool, plus a bonus for words of the tool's name."""
        base = self.matcher.similarity(request, tool_text(tool))
        name_words = [w for w in words(tool["name"]) if w not in _GENERIC]
        req = set(words(request))
        bonus = 0.3 * (sum(1 for w in name_words if w in req) / len(name_words)) if name_words else 0.0
        return round(base + bonus, 6)

    def plan(
        self,
        request: str,
        tools: list[dict[str, Any]],
        exclude: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[str]]:
        """``([(tool, arguments)], notes)``: the tools to call now, and why good matches were not."""
        scored = sorted(
            ((self.score(request, t), i, t) for i, t in enumerate(tools) if t["name"] not in exclude),
            key=lambda x: (-x[0], x[1]),
        )
        chosen: list[tuple[dict[str, Any], dict[str, Any]]] = []
        notes: list[str] = []
        best = scored[0][0] if scored else 0.0
        for score, _, tool in scored:
            if score < self.threshold or score < 0.5 * best:
                break
            args, missing = fill_arguments(request, tool.get("inputSchema"))
            if missing:
                notes.append(f"{tool['name']} needs {', '.join(missing)}, which the request does not give")
                continue
            if schema_errors(args, tool.get("inputSchema")):
                notes.append(f"{tool['name']}: could not fill its arguments from the request")
                continue
            chosen.append((tool, args))
            if len(chosen) >= MAX_PARALLEL:
                break
        return chosen, notes

    # ------------------------------------------------------------------ chat
    def _chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> ChatResponse:
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
        request = messages[last_user]["content"] if last_user >= 0 else ""
        turn = messages[last_user + 1 :]
        calls = [c for m in turn if m["role"] == "assistant" for c in m.get("tool_calls") or []]
        results = {m["tool_call_id"]: m for m in turn if m["role"] == "tool"}
        steps = sum(1 for m in turn if m["role"] == "assistant")
        usage_in = sum(_estimate(m["content"]) for m in messages)
        called = {c["name"] for c in calls}

        if not calls:
            chosen, notes = self.plan(request, tools)
        else:
            failed = [c for c in calls if results.get(c["id"], {}).get("is_error")]
            chosen, notes = ([], [])
            if failed and steps < 3:  # re-route once or twice, then answer
                chosen, notes = self.plan(request, tools, exclude=called)
        if chosen:
            tool_calls = [
                ToolCall(id=f"call_{steps + 1}_{i + 1}", name=tool["name"], arguments=args)
                for i, (tool, args) in enumerate(chosen)
            ]
            return ChatResponse(
                "", tool_calls, Usage(usage_in, 8 * len(tool_calls)), "tool_use", self.model, self.name
            )
        text = self.compose(request, messages, calls, results, notes)
        return ChatResponse(text, [], Usage(usage_in, _estimate(text)), "end_turn", self.model, self.name)

    def compose(
        self,
        request: str,
        messages: list[dict[str, Any]],
        calls: list[dict[str, Any]],
        results: dict[str, dict[str, Any]],
        notes: list[str],
    ) -> str:
        """The answer: one line per tool result, then memory hits, then what could not be done."""
        lines: list[str] = []
        for call in calls:
            result = results.get(call["id"])
            if result is None:
                continue
            value = _as_value(result["content"])
            if result.get("is_error"):
                lines.append(f"- {describe_call(call)} failed: {_short(value)}")
            elif isinstance(value, dict) and isinstance(value.get("answer"), str) and value.get("agent"):
                lines.append(f"- {value['agent']} (sub-agent) says:")
                lines += [f"    {ln}" for ln in _answer_lines(value["answer"])]
            else:
                lines.append(f"- {describe_call(call)}: {describe_result(value)}")
        for m in messages:
            hits = m.get("memory")
            if m["role"] == "system" and isinstance(hits, list) and hits:
                summary = m.get("summary") or f"Found {len(hits)} related memories"
                lines.append(f"- {summary}:")
                for hit in hits[:5]:
                    text = hit.get("text") if isinstance(hit, dict) else str(hit)
                    lines.append(f"    - {_short(text, 140)}")
        lines += [f"- Not done: {n}." for n in notes]
        if not lines:
            return (
                f'I have no tool or memory that matches "{_short(request, 80)}". '
                "(offline reasoner, not an LLM: configure a model with %model for open-ended answers)"
            )
        return f'Answer to "{_short(request, 120)}":\n' + "\n".join(lines)

    def _stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int | None,
        key: str | None,
    ) -> Iterator[str | ChatResponse]:
        response = self._chat(messages, tools, max_tokens, key)
        yield from re.findall(r"\S+\s*|\s+", response.text)
        yield response

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "matcher": self.matcher.name}
