"""``agentcore kernel install | uninstall``: the AgentCore Jupyter kernelspec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..notebook.kernel_names import DISPLAY_NAME, KERNEL_NAME
from . import app

kernel_app = typer.Typer(help=f"Install the '{DISPLAY_NAME}' Jupyter kernel.", no_args_is_help=True)
app.add_typer(kernel_app, name="kernel")


@kernel_app.command("install")
def install(
    user: Annotated[
        bool, typer.Option("--user", help="for the current user (~/.local/share/jupyter)")
    ] = False,
    sys_prefix: Annotated[
        bool, typer.Option("--sys-prefix", help="into this Python environment (default inside a virtualenv)")
    ] = False,
    prefix: Annotated[
        Path | None, typer.Option("--prefix", help="under PREFIX/share/jupyter/kernels")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="kernelspec name")] = KERNEL_NAME,
) -> None:
    """Install (or update) the kernelspec; safe to run again."""
    from ..notebook.kernelspec import install_kernelspec

    dest = install_kernelspec(user=user, sys_prefix=sys_prefix, prefix=prefix, name=name)
    typer.echo(f"installed kernelspec '{name}' ({DISPLAY_NAME}) in {dest}")


@kernel_app.command("uninstall")
def uninstall(name: Annotated[str, typer.Option("--name", help="kernelspec name")] = KERNEL_NAME) -> None:
    """Remove the kernelspec."""
    from ..notebook.kernelspec import uninstall_kernelspec

    dest = uninstall_kernelspec(name)
    typer.echo(f"removed kernelspec '{name}' from {dest}")
