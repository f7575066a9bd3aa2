"""Every span name, operation and attribute key comes from ``observability/conventions.py``: a scan
of the package's source for string literals that spell one anywhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import agentcore_nb
from agentcore_nb.observability import conventions as conv

PACKAGE = Path(agentcore_nb.__file__).parent
#: The operations a span name starts with (``chat gpt-4o``, ``execute_tool add``, ...).
OPERATIONS = {
    conv.INVOKE_WORKFLOW, conv.INVOKE_AGENT, conv.EXECUTE_TOOL, conv.CHAT, conv.EMBEDDINGS,
    conv.SEARCH_MEMORY, conv.UPDATE_MEMORY, conv.EXECUTE_NODE, conv.RUN_CELL,
}  # fmt: skip
KEY = re.compile(r"^(gen_ai|agentcore|messaging|mcp)\.[a-z_]+(\.[a-z_]+)*$|^(error\.type|server\.address)$")
#: Strings of that shape that are not span vocabulary.
NOT_SPAN_WORDS = {"agentcore.graph", "agentcore.toml", "agentcore.duckdb"}


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants, and the leading text of f-strings, with their line numbers."""
    out: list[tuple[int, str]] = []
    in_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            if parts and isinstance(parts[0], ast.Constant) and isinstance(parts[0].value, str):
                out.append((node.lineno, parts[0].value + "{"))
            in_fstring.update(id(p) for p in parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstring:
            out.append((node.lineno, node.value))
    return out


def _offends(text: str) -> bool:
    if text in NOT_SPAN_WORDS:
        return False
    if KEY.match(text.rstrip("{")):
        return True
    if text.endswith("{"):  # an f-string: f"chat {model}" spells a span name, f"chat failed: {e}" not
        return text[:-1].endswith(" ") and text[:-1].strip() in OPERATIONS
    head = text.split(" ")
    return head[0] in OPERATIONS and len(head) <= 2  # "chat" or "chat gpt-4o"


def test_span_names_and_keys_are_spelled_only_in_conventions() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "conventions.py" and path.parent.name == "observability":
            continue
        for line, text in _literals(ast.parse(path.read_text(), filename=str(path))):
            if _offends(text):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert found == [], "span vocabulary spelled outside observability/conventions.py:\n" + "\n".join(found)


def test_the_scan_catches_what_it_looks_for() -> None:
    tree = ast.parse('name = f"chat {model}"\nkey = "gen_ai.usage.input_tokens"\nop = "search_memory"\n'
                     'ok = "chatty text"\nlog = "agentcore_nb.memory"\ntarget = "agentcore.graph"\n')  # fmt: skip
    assert sorted(text for _, text in _literals(tree) if _offends(text)) == [
        "chat {",
        "gen_ai.usage.input_tokens",
        "search_memory",
    ]
