"""``agentcore export NOTEBOOK -o DIR``: a notebook as a graph bundle (read with nbformat, no kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import app


@app.command("export")
def export_cmd(
    notebook: Annotated[Path, typer.Argument(help="The notebook (.ipynb) to export.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="The bundle directory to write.")],
) -> None:
    """Check NOTEBOOK and write its graph bundle to DIR (nothing is written if a check fails)."""
    from ..export import export_notebook
    from ..export.plan import ExportError

    try:
        path = export_notebook(notebook, out)
    except ExportError as exc:
        typer.echo(f"error: {exc.report}" + (f"\n({exc.hint})" if exc.hint else ""), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"exported {notebook} -> {path} (run it: agentcore run local {path})")


def run_local_cmd(
    source: Path,
    input: str | None,
    session: str | None,
    as_json: bool,
    backend: str = "local",
    address: str = "",
) -> None:
    """Run a bundle (or a notebook) in-process; print the result, the run id and the trace summary."""
    import json

    from ..errors import AgentcoreError
    from ..export.runner import jsonable, result_value, run_local
    from ..observability.summary import format_run_summary
    from ..project import Project
    from .runs import parse_json_option

    given = parse_json_option(input)
    if backend not in ("local", "ray"):
        raise AgentcoreError(f"--backend must be local or ray, got {backend!r}")
    if address and backend != "ray":
        raise AgentcoreError("--address is for --backend ray")
    with Project.current() as project:
        ray = None
        if backend == "ray":
            from ..runtime.ray_backend import use_ray

            ray = use_ray(project.runtime(), address)
        try:
            result = run_local(source, given, session_id=session, project=project)
        finally:
            if ray is not None:
                ray.shutdown()
        events = project.event_log.events(result.run_id)
        value = result_value(result.output)
        if as_json:
            outputs = {k: jsonable(v) for k, v in result.outputs.items()}
            typer.echo(
                json.dumps(
                    {
                        "run_id": result.run_id,
                        "session_id": result.session_id,
                        "status": result.status,
                        "result": jsonable(value),
                        "outputs": outputs,
                        "errors": result.errors,
                    }
                )
            )
        else:
            typer.echo(json.dumps(jsonable(value), indent=2))
            typer.echo(
                f"run {result.run_id}: {result.status} (agentcore events {result.run_id[:12]})", err=True
            )
            typer.echo(format_run_summary(events), err=True)
    if not result.ok:
        raise typer.Exit(1)
