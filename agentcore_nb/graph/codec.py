"""The versioned JSON form of a graph (``"agentcore_graph": 1``), checked by a shipped JSON Schema."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._jsonschema import jsonschema
from ..errors import GraphError
from .policy import Policy
from .spec import Graph, Node, callable_ref

FORMAT_KEY = "agentcore_graph"
FORMAT_VERSION = 1


@lru_cache(maxsize=1)
def graph_schema() -> dict[str, Any]:
    """The JSON Schema of the graph file format (``agentcore_nb/graph/graph.schema.json``)."""
    text = resources.files(__package__).joinpath("graph.schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = graph_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _path(error: Any) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_problems(data: Any) -> list[str]:
    """JSON Schema violations of a graph document, each as ``path: reason``."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_path(e)}: {e.message}" for e in errors[:20]]


def _node_where(data: dict[str, Any], problem: str) -> str:
    # Name nodes instead of indexes where we can: "nodes[2]" -> "node 'fetch'".
    if problem.startswith("nodes["):
        idx_text = problem[6 : problem.index("]")]
        try:
            node = data["nodes"][int(idx_text)]
            name = node.get("name") if isinstance(node, dict) else None
        except (ValueError, IndexError, KeyError, TypeError):
            name = None
        if isinstance(name, str):
            rest = problem[problem.index("]") + 1 :].lstrip(".")
            return f"node '{name}': {rest}"
    return problem


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    nodes = []
    for node in graph:
        config = dict(node.config)
        fn = config.get("callable")
        if fn is not None and not isinstance(fn, str):
            config["callable"] = callable_ref(fn)
        entry: dict[str, Any] = {"name": node.name, "kind": node.kind}
        if node.inputs:
            entry["inputs"] = dict(node.inputs)
        if node.after:
            entry["after"] = list(node.after)
        if config:
            entry["config"] = config
        policy = node.policy.to_dict()
        if policy:
            entry["policy"] = policy
        if node.metadata:
            entry["metadata"] = dict(node.metadata)
        nodes.append(entry)
    data: dict[str, Any] = {FORMAT_KEY: FORMAT_VERSION, "name": graph.name, "nodes": nodes}
    if graph.output:
        data["output"] = graph.output
    if graph.metadata:
        data["metadata"] = dict(graph.metadata)
    return data


def graph_from_dict(data: Any, *, validate: bool = True, source: str = "graph") -> Graph:
    """Build a graph from its JSON form; structural and semantic problems raise :class:`GraphError`."""
    if not isinstance(data, dict):
        raise GraphError(f"{source}: a graph document must be a JSON object")
    version = data.get(FORMAT_KEY)
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise GraphError(
            f"{source}: graph format version {version} is newer than supported ({FORMAT_VERSION})",
            hint="upgrade agentcore-nb",
        )
    found = schema_problems(data)
    if found:
        raise GraphError(f"{source} is not a valid graph", [_node_where(data, p) for p in found])
    graph = Graph(data["name"], output=data.get("output"), metadata=data.get("metadata"))
    for entry in data["nodes"]:
        graph.add_node(
            Node(
                name=entry["name"],
                kind=entry.get("kind", "python"),
                inputs=dict(entry.get("inputs", {})),
                after=list(entry.get("after", [])),
                config=dict(entry.get("config", {})),
                policy=Policy.from_dict(entry.get("policy", {})),
                metadata=dict(entry.get("metadata", {})),
            )
        )
    if validate:
        graph.validate()
    return graph


def load_graph(path: str | Path, *, validate: bool = True) -> Graph:
    """Read a graph file; malformed JSON is reported with its line and column."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise GraphError(f"graph file '{p}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphError(f"cannot read graph file '{p}': {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"{p}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return graph_from_dict(data, validate=validate, source=str(p))


def save_graph(graph: Graph, path: str | Path) -> Path:
    """Write the graph's JSON form (atomically: a crash never leaves half a file)."""
    p = Path(path)
    text = json.dumps(graph_to_dict(graph), indent=2) + "\n"
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(p)
    return p
