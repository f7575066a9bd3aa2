"""``agentcore agent run NOTEBOOK_OR_GRAPH --agent NAME --prompt "..."``: run an agent headless.

A notebook is executed top to bottom on the AgentCore kernel (so its tools, memory and agents are
defined the way the notebook defines them), then ``%agent NAME "PROMPT"`` runs in the same kernel;
its answer and trace are printed. A graph file (JSON) runs its ``agent`` node on the project's
runtime. Exit status 1 when the agent fails.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import AgentcoreError
from . import app

agent_app = typer.Typer(help="Run agents defined in notebooks or graph files.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")

_RESULT = "__AGENTCORE_AGENT_RESULT__"


def _magic_line(name: str, prompt: str, replay: str | None, replay_tools: bool) -> str:
    line = f"%agent {name} {shlex.quote(prompt)}"
    if replay:
        line += f" --replay {shlex.quote(replay)}"
        if replay_tools:
            line += " --replay-tools"
    return line


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    from ..notebook.kernel_names import KERNEL_NAME

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def _outputs(cell: Any, *, with_type: bool = True) -> tuple[str, str, list[str]]:
    out: list[str] = []
    err: list[str] = []
    errors: list[str] = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            (out if o.name == "stdout" else err).append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            text = o.get("data", {}).get("text/plain")
            if text:
                out.append(text + "\n")
        elif o.output_type == "error":
            errors.append(f"{o.ename}: {o.evalue}" if with_type else str(o.evalue))
    return "".join(out), "".join(err), errors


def run_notebook(
    path: Path,
    name: str,
    prompt: str,
    *,
    model: str | None,
    replay: str | None,
    replay_tools: bool,
    timeout: float,
) -> dict[str, Any]:
    """Execute the notebook, then the agent; returns ``{answer_text, trace_text, result}``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise AgentcoreError(f"cannot read notebook {path}: {exc}") from None
    kernel = _kernel_name()
    own = len(nb.cells)
    extra = []
    if kernel != "agentcore":
        extra.append(nbformat.v4.new_code_cell("%load_ext agentcore_nb"))
    nb.cells = extra + nb.cells
    tail = []
    if model:
        tail.append(nbformat.v4.new_code_cell(f"%model {shlex.quote(model)}"))
    run_cell = nbformat.v4.new_code_cell(_magic_line(name, prompt, replay, replay_tools))
    report = nbformat.v4.new_code_cell(
        "import json as _json\n"
        "_r = globals().get('_agent_result')\n"
        f"print({_RESULT!r} + _json.dumps(None if _r is None else "
        "{'agent': _r.agent, 'answer': _r.answer, 'status': _r.status, 'run_id': _r.run_id, 'error': _r.error, "
        "'usage': _r.usage.to_dict(), 'steps': _r.steps}))"
    )
    nb.cells += [*tail, run_cell, report]
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=int(timeout),
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own start-up chatter
    except CellExecutionError as exc:  # pragma: no cover - allow_errors keeps going
        raise AgentcoreError(str(exc).splitlines()[0]) from None
    for i, cell in enumerate(nb.cells[len(extra) : len(extra) + own]):
        if cell.cell_type != "code":
            continue
        _, _, errors = _outputs(cell)
        if errors:
            first = cell.source.splitlines()[0] if cell.source else ""
            raise AgentcoreError(f"{path.name} cell {i + 1} ({first[:60]}) failed: {errors[0]}")
    for cell in tail:
        _, _, errors = _outputs(cell, with_type=False)
        if errors:
            raise AgentcoreError(errors[0])
    out, err, errors = _outputs(run_cell, with_type=False)
    # what the cell tracker says about the cells added here is not the user's business
    err = "".join(ln for ln in err.splitlines(keepends=True) if not ln.startswith("agentcore: "))
    summary_out, _, _ = _outputs(report)
    result = None
    for line in summary_out.splitlines():
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT) :])
    return {"stdout": out, "stderr": err, "errors": errors, "result": result}


def run_graph(
    path: Path, name: str, prompt: str, *, model: str | None, replay: str | None, replay_tools: bool
) -> dict[str, Any]:
    from ..agent.runner import run
    from ..agent.spec import Agent
    from ..graph.codec import load_graph
    from ..project import Project

    graph = load_graph(path)
    nodes = [n for n in graph if n.kind == "agent"]
    if not nodes:
        raise AgentcoreError(f"graph '{graph.name}' has no agent node")
    chosen = [n for n in nodes if n.name == name or (n.config.get("agent") or {}).get("name") == name]
    if not chosen:
        known = ", ".join(n.name for n in nodes)
        raise AgentcoreError(f"graph '{graph.name}' has no agent {name!r} (agent nodes: {known})")
    agent = Agent.from_config(chosen[0].config["agent"])
    with Project() as project:
        if model:
            project.services["models"].use(model)
        result = run(agent, prompt, project=project, replay=replay, replay_tools=replay_tools)
        trace = result.trace()
    text = result.answer + "\n" if result.ok else ""
    if result.note:
        text += f"[{result.note}]\n"
    return {
        "stdout": text + trace + "\n",
        "stderr": "",
        "errors": [] if result.ok else [result.error],
        "result": {
            "agent": result.agent,
            "answer": result.answer,
            "status": result.status,
            "run_id": result.run_id,
            "error": result.error,
            "usage": result.usage.to_dict(),
            "steps": result.steps,
        },
    }


@agent_app.command("run")
def run_cmd(
    source: Annotated[Path, typer.Argument(help="A notebook (.ipynb) or a graph file (.json).")],
    agent: Annotated[str, typer.Option("--agent", "-a", help="The agent's name.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="What to ask it.")],
    model: Annotated[
        str | None, typer.Option(help="PROVIDER:MODEL for this run (default: the configured one).")
    ] = None,
    replay: Annotated[
        str | None, typer.Option(help="Answer model calls from this recorded run (id or prefix).")
    ] = None,
    replay_tools: Annotated[bool, typer.Option("--replay-tools", help="Replay tool results too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds allowed per notebook cell.")] = 300.0,
) -> None:
    """Run AGENT on PROMPT; print the answer and a compact trace."""
    if not source.exists():
        raise AgentcoreError(f"no such file: {source}")
    if not prompt.strip():
        raise AgentcoreError("--prompt is empty", hint='e.g. --prompt "Where is my order 1234?"')
    if replay_tools and not replay:
        raise AgentcoreError("--replay-tools needs --replay RUN_ID")
    if source.suffix == ".ipynb":
        found = run_notebook(
            source, agent, prompt, model=model, replay=replay, replay_tools=replay_tools, timeout=timeout
        )
    elif source.suffix == ".json":
        found = run_graph(source, agent, prompt, model=model, replay=replay, replay_tools=replay_tools)
    else:
        raise AgentcoreError(f"{source} is neither a notebook (.ipynb) nor a graph file (.json)")
    if as_json:
        typer.echo(json.dumps(found["result"], indent=2))
    else:
        sys.stdout.write(found["stdout"])
        sys.stderr.write(found["stderr"])
        run_id = (found["result"] or {}).get("run_id")
        if run_id:
            typer.echo(f"run {run_id}: its events with `agentcore events {run_id[:12]}`")
    if found["errors"]:
        typer.echo(f"error: {found['errors'][0]}", err=True)
        raise typer.Exit(1)
