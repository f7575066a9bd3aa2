"""Run a bundle in-process on a project's runtime: the same Runtime and node executors the notebook
uses (python, tool, memory, code, reason, agent), the project's durable log and identity."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import AgentcoreError
from ..graph.codec import graph_from_dict
from ..graph.spec import Graph
from .bundle import MODULE, Bundle, sha256
from .support import VALUE_KEY

_lock = threading.Lock()


def load_module(bundle: Bundle) -> ModuleType:
    """``cells.py`` as a module, from the very bytes the manifest check read (no second read)."""
    name = f"agentcore_bundle_{sha256(bundle.module_source)[:16]}"
    with _lock:
        found = sys.modules.get(name)
        if found is not None:
            return found
        spec = importlib.util.spec_from_loader(name, loader=None, origin=str(bundle.path / "cells.py"))
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__file__ = str(bundle.path / "cells.py")
        code = compile(bundle.module_source, module.__file__, "exec")
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)
        except Exception as exc:
            del sys.modules[name]
            raise AgentcoreError(
                f"bundle {bundle.path}: cells.py failed to load: {type(exc).__name__}: {exc}",
                hint="are its requirements installed (pip install -r requirements.txt)?",
            ) from None
        return module


def _resolve(ref: str, module: ModuleType, what: str) -> Any:
    mod, _, attr = ref.partition(":")
    if mod != MODULE or not hasattr(module, attr):
        raise AgentcoreError(f"{what} refers to {ref!r}, which cells.py does not define")
    return getattr(module, attr)


def build_graph(bundle: Bundle, module: ModuleType) -> Graph:
    graph = graph_from_dict(bundle.graph, validate=False, source=f"{bundle.path}/graph.json")
    for node in graph:
        ref = node.config.get("callable")
        if node.kind == "python" and isinstance(ref, str):
            node.config["callable"] = _resolve(ref, module, f"node '{node.name}'")
    return graph.validate()


def run_input(bundle: Bundle, given: Any) -> dict[str, Any]:
    """Parameter defaults, overridden by ``given`` (a JSON object); unknown or missing names refused."""
    params = bundle.parameters
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise AgentcoreError(
            f"--input must be a JSON object of parameters, got {type(given).__name__}",
            hint="e.g. --input '{" + ", ".join(f'"{k}": ...' for k in params) + "}'" if params else None,
        )
    unknown = [k for k in given if k not in params]
    if unknown:
        known = ", ".join(params) or "none"
        raise AgentcoreError(
            f"--input: {unknown[0]!r} is not a parameter of this graph (parameters: {known})",
            hint="tag the notebook cell that sets it 'parameters'" if not params else None,
        )
    value = {k: p["default"] for k, p in params.items() if "default" in p}
    value.update(given)
    missing = [k for k, p in params.items() if p.get("required") and k not in value]
    if missing:
        raise AgentcoreError(
            f"--input misses the required parameter {missing[0]!r}",
            hint=f"--input '{{\"{missing[0]}\": ...}}'",
        )
    return value


def install_definitions(bundle: Bundle, module: ModuleType, project: Any) -> None:
    """Register the bundle's tools in the project's gateway, define its agents (as the notebook's
    ``%%agent`` cells did, so code that looks an agent up by name finds it) and choose its model."""
    defs = bundle.definitions
    tools = defs.get("tools") or []
    if tools:
        gateway = project.services["gateway"]
        for tool in tools:
            fn = _resolve(str(tool.get("function", "")), module, f"tool {tool.get('name')!r}")
            gateway.register_function(fn, name=tool["name"], timeout=tool.get("timeout"))
    agents = defs.get("agents") or {}
    if agents:
        from ..agent import Agent

        registry = project.services["agents"]
        for config in agents.values():
            registry.define(Agent.from_config(config))
    model = defs.get("model")
    if isinstance(model, dict) and model.get("model"):
        project.services["models"].use(model["model"], base_url=model.get("base_url"))


class LoadedBundle:
    """A bundle made ready once (module loaded, graph built, definitions installed in the project);
    each :meth:`run` then costs only the input check and the run. ``run local`` runs it once,
    ``agentcore serve`` once per request: one runner."""

    def __init__(self, bundle: Bundle, project: Any = None) -> None:
        from ..project import Project

        self.bundle = bundle
        self.module = load_module(bundle)
        self.graph = build_graph(bundle, self.module)
        self.project = project or Project.current()
        install_definitions(bundle, self.module, self.project)

    @property
    def name(self) -> str:
        return str(self.graph.name)

    def run(self, given: Any = None, **kwargs: Any) -> Any:
        """Check ``given`` against the parameters and run the graph on the project's runtime
        (``session_id``, ``run_id``, ``token``, ``context``, ``state`` as :meth:`Runtime.run`)."""
        value = run_input(self.bundle, given)
        return self.project.runtime().run(self.graph, value, **kwargs)


def run_bundle(
    bundle: Bundle,
    given: Any = None,
    *,
    project: Any = None,
    session_id: str | None = None,
    run_id: str | None = None,
) -> Any:
    """Run the bundle; returns the :class:`RunResult`."""
    run_input(bundle, given)  # refused before anything loads
    return LoadedBundle(bundle, project).run(given, session_id=session_id, run_id=run_id)


def result_value(output: Any) -> Any:
    """What a run's output cell gives: its last expression's value, else its names, else the step's
    output (a tool result, a memory search, the agent's answer...)."""
    if isinstance(output, dict) and VALUE_KEY in output:
        return output[VALUE_KEY]
    if isinstance(output, dict):
        return dict(output)
    return output


def jsonable(value: Any) -> Any:
    """``value`` if it survives JSON, else its text form (for printing)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=repr))


def run_local(
    source: Path,
    given: Any = None,
    *,
    session_id: str | None = None,
    project: Any = None,
) -> Any:
    """``agentcore run local``: a bundle directory, or a notebook exported to a temporary one first."""
    import shutil
    import tempfile

    from . import export_notebook
    from .bundle import load_bundle

    source = Path(source)
    if source.suffix == ".ipynb":
        tmp = Path(tempfile.mkdtemp(prefix="agentcore-bundle-"))
        try:
            out = export_notebook(source, tmp / "bundle")
            return run_bundle(load_bundle(out), given, project=project, session_id=session_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return run_bundle(load_bundle(source), given, project=project, session_id=session_id)


__all__ = [
    "LoadedBundle",
    "build_graph",
    "load_module",
    "result_value",
    "run_bundle",
    "run_input",
    "run_local",
]
