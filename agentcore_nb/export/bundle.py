"""Write a plan as a bundle directory (atomically), and read one back, checked against its manifest.

Files: ``graph.json`` (the versioned graph spec), ``cells.py`` (the Python cells as functions),
``definitions.json`` (tools, agents and the model, by reference: never a key), ``memory.json``
(namespaces used), ``requirements.txt`` (pinned from this environment), ``README.md`` and
``manifest.json`` (sha256 of every file and of the source notebook).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._version import __version__
from ..graph.codec import FORMAT_KEY, FORMAT_VERSION
from .module import function_name, module_source
from .plan import ExportError, Plan

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
MODULE = "cells"
FILES = ("graph.json", "cells.py", "definitions.json", "memory.json", "requirements.txt", "README.md")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")


def graph_spec(plan: Plan) -> dict[str, Any]:
    """The graph's JSON form: cells as nodes (kind, config, policy, inputs), in notebook order.

    Nodes run in notebook order (each after the previous one), as the notebook ran them top to
    bottom: side effects outside the names (files, memory, tools) keep their order.
    """
    nodes: list[dict[str, Any]] = []
    previous: str | None = None
    for cell in plan.cells:
        node = cell.node
        assert node is not None
        entry: dict[str, Any] = {"name": cell.name, "kind": node.kind}
        if cell.inputs:
            entry["inputs"] = dict(cell.inputs)
        sources = {s.split(".", 1)[0] for s in cell.inputs.values()}
        if previous is not None and cell.name not in plan.standby and previous not in sources:
            entry["after"] = [previous]
        if node.role == "python":
            entry["config"] = {"callable": f"{MODULE}:{function_name(cell.name)}"}
        else:
            entry["config"] = dict(node.config)
        if node.policy:
            entry["policy"] = dict(node.policy)
        meta: dict[str, Any] = {"cell_id": cell.cell_id, "cell": cell.first_line}
        if node.reads:
            meta["reads"] = list(node.reads)
        if node.defines:
            meta["defines"] = list(node.defines)
        entry["metadata"] = meta
        nodes.append(entry)
        if cell.name not in plan.standby:
            previous = cell.name
    return {
        FORMAT_KEY: FORMAT_VERSION,
        "name": plan.name,
        "output": plan.output,
        "metadata": {
            "source": "notebook",
            "notebook": plan.notebook.name,
            "parameters": plan.parameters,
            "module": f"{MODULE}.py",
            "definitions": "definitions.json",
        },
        "nodes": nodes,
    }


def definitions(plan: Plan) -> dict[str, Any]:
    tools = []
    for t in plan.tools:
        entry = {"name": t["name"], "function": f"{MODULE}:{t['function']}", "cell_id": t["cell"]}
        if t.get("timeout") is not None:
            entry["timeout"] = t["timeout"]
        tools.append(entry)
    return {"tools": tools, "agents": plan.agents, "model": plan.model}


def memory_namespaces(plan: Plan) -> list[str]:
    found: set[str] = set()

    def agent(cfg: dict[str, Any]) -> None:
        for key in ("memory_namespace", "remember"):
            if isinstance(cfg.get(key), str):
                found.add(cfg[key])
        for sub in cfg.get("subagents") or []:
            agent(sub)

    for cell in plan.cells:
        node = cell.node
        if node is not None and node.kind == "memory" and node.config.get("namespace"):
            found.add(str(node.config["namespace"]))
        if node is not None and node.kind == "agent":
            agent(node.config.get("agent") or {})
    for cfg in plan.agents.values():
        agent(cfg)
    return sorted(found)


def imported_modules(sources: list[str]) -> list[str]:
    names: set[str] = set()
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return sorted(names)


def requirements(plan: Plan) -> tuple[str, list[str]]:
    """Pinned distributions for the third-party modules the cells import; and local modules."""
    sources = [c.node.code for c in plan.cells if c.node is not None and c.node.role == "python"]
    sources += [code for _, code in plan.tool_code]
    pins = {f"agentcore-nb=={__version__}"}
    local: list[str] = []
    third = [
        m
        for m in imported_modules(sources)
        if m not in sys.stdlib_module_names and m not in ("agentcore_nb", "__future__")
    ]
    dists = importlib.metadata.packages_distributions() if third else {}  # slow: only when needed
    for mod in third:
        found = dists.get(mod)
        if not found:
            local.append(mod)
            continue
        for dist in found:
            try:
                pins.add(f"{dist}=={importlib.metadata.version(dist)}")
            except importlib.metadata.PackageNotFoundError:
                local.append(mod)
    lines = sorted(pins, key=str.lower)
    head = "# pinned from the environment that exported the notebook\n"
    if local:
        head += (
            "# imported but not installed as a distribution (ship them beside the bundle): "
            + ", ".join(local)
            + "\n"
        )
    return head + "\n".join(lines) + "\n", local


def readme(plan: Plan, spec: dict[str, Any], local: list[str]) -> str:
    params = plan.parameters
    lines = [
        f"# {plan.name}: a graph bundle exported from {plan.notebook.name}",
        "",
        "Run it, with no Jupyter kernel:",
        "",
        "```sh",
        "pip install -r requirements.txt",
        "agentcore run local . "
        + (
            "--input '" + json.dumps({k: v.get("default") for k, v in params.items()}) + "'" if params else ""
        ),
        "```",
        "",
        f"- `graph.json`: {len(spec['nodes'])} node(s) in notebook order; the output is `{plan.output}`.",
        "- `cells.py`: each Python cell as a function of the names it reads, returning the names it defines.",
        "- `definitions.json`: tools (functions in `cells.py`), agents and the model, by name; no keys.",
        "- `memory.json`: the memory namespaces the graph reads or writes (in the project's memory).",
        "- `requirements.txt`: what the cells import, pinned.",
        "- `manifest.json`: sha256 of every file; `agentcore run local` refuses a bundle that does not match.",
        "",
    ]
    if params:
        lines.append("Parameters (`--input` JSON overrides them):")
        lines.append("")
        for name, p in params.items():
            lines.append(
                f"- `{name}`: "
                + ("required" if p.get("required") else f"default `{json.dumps(p.get('default'))}`")
            )
        lines.append("")
    if plan.left_out:
        lines.append("Cells left out:")
        lines.append("")
        lines.extend(f"- {item}" for item in plan.left_out)
        lines.append("")
    if local:
        lines.append("Local modules the cells import (put them on `PYTHONPATH`): " + ", ".join(local))
        lines.append("")
    lines.append(
        "Files are read relative to the working directory, as the notebook read them from its folder."
    )
    return "\n".join(lines) + "\n"


def bundle_files(plan: Plan) -> dict[str, bytes]:
    """Every file of the bundle but the manifest; the same plan always gives the same bytes."""
    spec = graph_spec(plan)
    reqs, local = requirements(plan)
    return {
        "graph.json": _json(spec),
        "cells.py": module_source(plan).encode("utf-8"),
        "definitions.json": _json(definitions(plan)),
        "memory.json": _json({"namespaces": memory_namespaces(plan)}),
        "requirements.txt": reqs.encode("utf-8"),
        "README.md": readme(plan, spec, local).encode("utf-8"),
    }


def write_bundle(plan: Plan, out: Path) -> Path:
    """Write the bundle to ``out`` all at once: a temporary directory renamed into place."""
    files = bundle_files(plan)
    notebook_bytes = plan.notebook.read_bytes()
    manifest = {
        "agentcore_bundle": BUNDLE_FORMAT,
        "name": plan.name,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agentcore_nb": __version__,
        "notebook": {"name": plan.notebook.name, "sha256": sha256(notebook_bytes)},
        "files": {name: sha256(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = _json(manifest)
    out = out.expanduser().absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise ExportError(
            f"{out} exists and is not a bundle", hint="choose another -o directory, or remove it first"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "bundle")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_graph_bundle(spec: dict[str, Any], cells: str, out: Path, *, requirements: str = "") -> Path:
    """A bundle from a hand-written graph spec and its ``cells.py`` (no notebook): what
    ``agentcore serve`` and ``run local`` load, for graphs written in code."""
    files = {
        "graph.json": _json(spec),
        "cells.py": cells.encode("utf-8"),
        "definitions.json": _json({}),
        "memory.json": _json([]),
        "requirements.txt": (requirements or f"agentcore-nb=={__version__}\n").encode("utf-8"),
        "README.md": f"# {spec.get('name', 'graph')}\n\nWritten from a graph spec.\n".encode(),
    }
    manifest = {
        "agentcore_bundle": BUNDLE_FORMAT,
        "name": spec.get("name", "graph"),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agentcore_nb": __version__,
        "files": {name: sha256(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = _json(manifest)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out


@dataclass(slots=True)
class Bundle:
    """A bundle read from disk, every file checked against the manifest."""

    path: Path
    manifest: dict[str, Any]
    graph: dict[str, Any]
    definitions: dict[str, Any]
    module_source: bytes

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return dict((self.graph.get("metadata") or {}).get("parameters") or {})


def load_bundle(path: Path) -> Bundle:
    """Read and verify a bundle; a file that does not match the manifest is refused by name."""
    path = Path(path)
    if not path.is_dir():
        raise ExportError(
            f"no bundle directory at {path}", hint="export one with: agentcore export NOTEBOOK -o DIR"
        )
    mpath = path / MANIFEST
    try:
        manifest = json.loads(mpath.read_text("utf-8"))
    except FileNotFoundError:
        raise ExportError(
            f"{path} has no {MANIFEST}: it is not a bundle", hint="agentcore export NOTEBOOK -o DIR"
        ) from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{mpath} cannot be read ({exc}); re-export the notebook") from None
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or manifest.get("agentcore_bundle") != BUNDLE_FORMAT:
        raise ExportError(
            f"{mpath} is not a bundle manifest (format {BUNDLE_FORMAT})", hint="re-export the notebook"
        )
    missing = [f for f in FILES if f not in listed]
    if missing:
        raise ExportError(
            f"bundle {path}: the manifest does not list {missing[0]}", hint="re-export the notebook"
        )
    data: dict[str, bytes] = {}
    for name, digest in sorted(listed.items()):
        if "/" in name or name.startswith(".") or name == MANIFEST:
            raise ExportError(f"bundle {path}: the manifest lists a bad file name {name!r}")
        try:
            data[name] = (path / name).read_bytes()
        except OSError:
            raise ExportError(f"bundle {path}: {name} is missing", hint="re-export the notebook") from None
        if sha256(data[name]) != digest:
            raise ExportError(
                f"bundle {path}: {name} does not match its manifest (edited by hand?)",
                hint="re-export the notebook instead of editing the bundle",
            )
    extra = sorted(
        p.name
        for p in path.iterdir()
        if p.name not in listed and p.name != MANIFEST and p.name != "__pycache__"
    )
    if extra:
        raise ExportError(f"bundle {path}: {extra[0]} is not in its manifest", hint="remove it, or re-export")
    try:
        graph = json.loads(data["graph.json"])
        defs = json.loads(data["definitions.json"])
    except ValueError as exc:  # pragma: no cover - the hashes matched what export wrote
        raise ExportError(f"bundle {path}: {exc}") from None
    return Bundle(path, manifest, graph, defs, data["cells.py"])


__all__ = ["Bundle", "bundle_files", "load_bundle", "write_bundle", "write_graph_bundle"]
