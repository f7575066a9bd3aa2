"""``agentcore code run FILE --lang python|js|r``: run a file once in the sandboxed interpreter."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AgentcoreError
from . import app

code_app = typer.Typer(help="Run code in the sandboxed code interpreter.", no_args_is_help=True)
app.add_typer(code_app, name="code")

_EXTENSIONS = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".r": "r"}


@code_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="Source file to run ('-' reads standard input).")],
    lang: Annotated[
        str | None, typer.Option("--lang", "-l", help="python, js or r (default: from the file extension).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Wall-clock limit in seconds.")] = None,
    allow_net: Annotated[
        list[str] | None,
        typer.Option("--allow-net", help="Permit HOST:PORT (repeatable).", metavar="HOST:PORT"),
    ] = None,
    memory_mb: Annotated[
        int | None, typer.Option("--memory-mb", help="Memory (address space) limit in MiB.")
    ] = None,
    unsafe_local: Annotated[
        bool,
        typer.Option("--unsafe-local", help="Run WITHOUT a sandbox (no isolation; says so in the output)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
) -> None:
    """Run FILE in a fresh sandboxed session; print its output; exit 1 if it failed or hit a limit."""
    from ..interpreter import Interpreter
    from ..interpreter.limits import MiB
    from ..project import Project

    if str(file) == "-":
        source = sys.stdin.read()
    else:
        try:
            source = file.read_text("utf-8")
        except OSError as exc:
            raise AgentcoreError(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise AgentcoreError(f"{file} is not UTF-8 text") from None
    language = lang or _EXTENSIONS.get(file.suffix.lower())
    if language is None:
        raise AgentcoreError(f"cannot tell the language of {file}", hint="pass --lang python, js or r")
    with Project() as project:
        interpreter = Interpreter(
            project.home / "interpreter",
            unsafe_local=unsafe_local,
            event_log=project.event_log,
            services=project.services,
        )
        try:
            result = interpreter.execute_code(
                source,
                language=language,
                session=f"cli-{uuid.uuid4().hex[:12]}",
                timeout=timeout,
                limits={"memory_bytes": memory_mb * MiB} if memory_mb else None,
                allow_net=allow_net or None,
            )
        finally:
            interpreter.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        if result.warning:
            typer.echo(f"warning: {result.warning}", err=True)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        for item in result.results:
            text = (item.get("data") or {}).get("text/plain")
            if text:
                typer.echo(text)
        if result.error and result.error.get("traceback"):
            sys.stderr.write(result.error["traceback"].rstrip() + "\n")
        if not result.ok:
            typer.echo(f"error: {result.error_line()}", err=True)
        typer.echo(
            f"[{result.language} · {result.wall_ms:.0f} ms · cpu {result.cpu_ms:.0f} ms · "
            f"peak {result.peak_memory_bytes / MiB:.0f} MiB · {result.sandbox}]",
            err=True,
        )
    raise typer.Exit(0 if result.ok else 1)
