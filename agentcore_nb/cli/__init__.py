"""The ``agentcore`` command. Each room adds its commands in its own module under ``cli/``."""

from __future__ import annotations

import sys

import typer

from ..errors import AgentcoreError

app = typer.Typer(
    name="agentcore",
    help="Prototype agents in Jupyter as execution graphs; run, inspect and resume them anywhere.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _load_command_modules() -> None:
    """Every module in this package adds its commands to ``app`` when imported."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_command_modules()


def main() -> None:
    """Entry point: user mistakes print one ``error:`` line and exit non-zero, never a traceback."""
    try:
        app()
    except AgentcoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a damaged database met where no component wrapped the error
        from ..db import damage_error
        from ..home import database_path

        damaged = damage_error(database_path(), exc) if "duckdb" in type(exc).__module__ else None
        if damaged is None:
            raise
        typer.echo(f"error: {damaged}", err=True)
        sys.exit(1)


__all__ = ["app", "main"]
