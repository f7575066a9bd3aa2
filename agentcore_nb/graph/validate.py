"""Graph validation: every problem names the node it is about."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import GraphError
from .spec import INPUT_SOURCE, NODE_KINDS, Graph, Node

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")

#: Extra per-kind config checks, filled by the components that execute those kinds.
KIND_VALIDATORS: dict[str, Callable[[Node], list[str]]] = {}


def _python_config(node: Node) -> list[str]:
    has_callable = "callable" in node.config
    has_code = "code" in node.config
    if has_callable == has_code:
        return ["a python node needs exactly one of config.callable or config.code"]
    if has_code and not isinstance(node.config["code"], str):
        return ["config.code must be a string"]
    ref = node.config.get("callable")
    if isinstance(ref, str) and ":" not in ref:
        return [f"config.callable '{ref}' must look like 'package.module:function'"]
    if has_callable and not (isinstance(ref, str) or callable(ref)):
        return ["config.callable must be a 'module:function' string or a callable"]
    return []


KIND_VALIDATORS["python"] = _python_config


def find_cycle(graph: Graph) -> list[str] | None:
    """One dependency cycle as a list of node names (first == last), or None."""
    deps = {n.name: [d for d in n.dependencies() if d in graph.nodes] for n in graph}
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(deps, white)
    stack_path: list[str] = []

    def visit(start: str) -> list[str] | None:
        # Iterative DFS so deep chains do not hit the recursion limit.
        stack = [(start, iter(deps[start]))]
        color[start] = grey
        stack_path.append(start)
        while stack:
            node, children = stack[-1]
            for child in children:
                if color[child] == grey:
                    return stack_path[stack_path.index(child) :] + [child]
                if color[child] == white:
                    color[child] = grey
                    stack_path.append(child)
                    stack.append((child, iter(deps[child])))
                    break
            else:
                color[node] = black
                stack_path.pop()
                stack.pop()
        return None

    for name in deps:
        if color[name] == white:
            cycle = visit(name)
            if cycle:
                return list(reversed(cycle))
    return None


def ancestors(graph: Graph, name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[name].dependencies())
    while stack:
        cur = stack.pop()
        if cur in seen or cur not in graph.nodes:
            continue
        seen.add(cur)
        stack.extend(graph.nodes[cur].dependencies())
    return seen


def problems(graph: Graph) -> list[str]:
    """Every problem of ``graph``; empty when it is valid."""
    out: list[str] = []
    if not isinstance(graph.name, str) or not graph.name:
        out.append("the graph needs a non-empty name")
    for dup in dict.fromkeys(graph._duplicates):
        out.append(f"node '{dup}': duplicate name")
    names = graph.nodes
    standby = graph.fallback_targets()
    for node in graph:
        where = f"node '{node.name}'"
        if not isinstance(node.name, str) or not NAME_RE.match(node.name):
            out.append(f"{where}: invalid name (use letters, digits, '_' or '-', starting with a letter)")
        if node.kind not in NODE_KINDS and node.kind not in KIND_VALIDATORS:
            out.append(f"{where}: unknown kind '{node.kind}' (known: {', '.join(NODE_KINDS)})")
        elif node.kind in KIND_VALIDATORS:
            out.extend(f"{where}: {p}" for p in KIND_VALIDATORS[node.kind](node))
        for param, source in node.inputs.items():
            if source.startswith(INPUT_SOURCE):
                if source != INPUT_SOURCE and not source.startswith(INPUT_SOURCE + "."):
                    out.append(f"{where}: input '{param}' has a malformed source '{source}'")
                continue
            dep = source.split(".", 1)[0]
            if dep not in names:
                out.append(f"{where}: input '{param}' depends on missing node '{dep}'")
        for dep in node.after:
            if dep not in names:
                out.append(f"{where}: runs after missing node '{dep}'")
        if node.name in node.dependencies():
            out.append(f"{where}: depends on itself")
        for dep in node.dependencies():
            if dep in standby and dep in names:
                out.append(
                    f"{where}: depends on '{dep}', which only runs as a fallback; "
                    f"depend on the node that falls back to it instead"
                )
        out.extend(f"{where}: policy {p}" for p in node.policy.problems())
        fb = node.policy.fallback
        if fb is not None:
            if fb == node.name:
                out.append(f"{where}: falls back to itself")
            elif fb not in names:
                out.append(f"{where}: fallback node '{fb}' does not exist")
    if graph.output is not None and graph.output not in names:
        out.append(f"graph output names missing node '{graph.output}'")
    if not any("missing node" in p or "depends on itself" in p for p in out):
        cycle = find_cycle(graph)
        if cycle:
            out.append("cycle: " + " -> ".join(cycle))
        else:
            out.extend(_fallback_problems(graph))
    return out


def _fallback_problems(graph: Graph) -> list[str]:
    out: list[str] = []
    for node in graph:
        fb = node.policy.fallback
        if not fb or fb not in graph.nodes or fb == node.name:
            continue
        # A fallback runs in its node's place, so its own inputs must be ready by then.
        available = ancestors(graph, node.name)
        missing = [d for d in graph.nodes[fb].dependencies() if d not in available]
        if missing:
            out.append(
                f"node '{node.name}': fallback '{fb}' needs {', '.join(repr(m) for m in missing)}, "
                f"which do not run before '{node.name}'"
            )
        seen = [node.name]
        cur: str | None = fb
        while cur is not None and cur in graph.nodes:
            if cur in seen:
                out.append(f"node '{node.name}': fallback chain loops: {' -> '.join(seen + [cur])}")
                break
            seen.append(cur)
            cur = graph.nodes[cur].policy.fallback
    return out


def validate(graph: Graph) -> None:
    found = problems(graph)
    if found:
        raise GraphError(f"invalid graph '{graph.name}'", found)
