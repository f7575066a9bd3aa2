"""One small way to define magics: argparse with ``--help``, one-line usage errors, a node kind.

A magic module under ``agentcore_nb/notebook/magics/`` defines its magics with :func:`magic`;
the extension imports every module in that package and registers what they define::

    @magic("memory", help="Read and write long-term memory.", kind="memory")
    def memory_magic(call: MagicCall) -> Any:
        ...

    sub = memory_magic.subcommands()
    add = sub.add_parser("add", help="Store a fact.")
    add.add_argument("text", nargs="+")

User mistakes raise :class:`UsageError` (or any :class:`AgentcoreError`); the extension shows them
as a single error line in the cell, never a traceback, and the cell leaves the notebook graph
unchanged. The cell that used a magic becomes a node of that magic's ``kind`` (a plain cell is
``python``; a cell of only kindless magics such as ``%graph`` is not a node).

A handler tells the cell's node what the code analysis cannot see through ``call.metadata``:
``defines`` / ``reads`` (names the magic binds or uses in the user namespace, e.g. a variable it
stores a tool result in), ``config`` (the node's config for the magic's kind); any other key is kept
under the node's ``metadata.magic``. A magic defined after ``%load_ext`` (in a notebook cell) is
registered with :func:`agentcore_nb.notebook.extension.register_magic`.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from ...errors import AgentcoreError

if TYPE_CHECKING:
    from ..session import NotebookSession

MODES = ("line", "cell")


class UsageError(AgentcoreError):
    """A magic was called wrongly; the message says how to call it."""


class _HelpShown(Exception):
    pass


class MagicArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a bad magic never kills or confuses the kernel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("exit_on_error", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"see {self.prog.split()[0]} --help")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageError(message.strip())
        raise _HelpShown()


@dataclass(slots=True)
class MagicCall:
    """What a magic handler receives."""

    magic: Magic
    shell: Any
    session: NotebookSession
    args: argparse.Namespace
    line: str
    cell: str | None = None
    #: Recorded on the cell's graph node (e.g. the tool a %%tool cell defines).
    metadata: dict[str, Any] = field(default_factory=dict)

    def define(self, name: str, value: Any) -> None:
        """Put ``value`` in the user namespace as ``name`` (cells may read it without a warning)."""
        self.shell.user_ns[name] = value
        self.session.outside_names.add(name)

    def display(self, *objs: Any, **kwargs: Any) -> None:
        from IPython.display import display

        display(*objs, **kwargs)


Handler = Callable[[MagicCall], Any]


class Magic:
    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        help: str,
        kind: str | None = None,
        modes: Iterable[str] = ("line",),
        epilog: str | None = None,
    ) -> None:
        self.name = name
        self.handler = handler
        self.help = help
        self.kind = kind
        self.modes = tuple(modes)
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise ValueError(f"magic {name}: modes must be among {MODES}")
        prefix = "%%" if self.modes == ("cell",) else "%"
        self.parser = MagicArgumentParser(prog=f"{prefix}{name}", description=help, epilog=epilog)
        self._sub: argparse._SubParsersAction | None = None  # type: ignore[type-arg]

    def subcommands(self, **kwargs: Any) -> argparse._SubParsersAction:  # type: ignore[type-arg]
        """``%name SUBCOMMAND ...``: add sub-parsers to the returned object."""
        if self._sub is None:
            kwargs.setdefault("dest", "subcommand")
            kwargs.setdefault("metavar", "SUBCOMMAND")
            self._sub = self.parser.add_subparsers(parser_class=MagicArgumentParser, **kwargs)
            self._sub.required = True
        return self._sub

    def parse(self, line: str) -> argparse.Namespace | None:
        """Parse the magic's line; ``None`` when ``--help`` was shown."""
        try:
            argv = shlex.split(line, posix=True)
        except ValueError as exc:
            raise UsageError(f"{self.parser.prog}: cannot parse arguments ({exc})") from None
        try:
            return self.parser.parse_args(argv)
        except _HelpShown:
            return None
        except argparse.ArgumentError as exc:
            raise UsageError(f"{self.parser.prog}: {exc}", hint=f"see {self.parser.prog} --help") from None

    def invoke(self, shell: Any, session: NotebookSession, line: str, cell: str | None) -> Any:
        args = self.parse(line)
        if args is None:
            return None
        call = MagicCall(self, shell, session, args, line, cell)
        result = self.handler(call)
        if call.metadata:
            session.note_cell(**call.metadata)
        return result


MAGICS: dict[str, Magic] = {}


def magic(
    name: str,
    *,
    help: str,
    kind: str | None = None,
    modes: Iterable[str] = ("line",),
    epilog: str | None = None,
) -> Callable[[Handler], Magic]:
    """Define a magic (``modes``: ``("line",)``, ``("cell",)`` or both)."""

    def register(handler: Handler) -> Magic:
        m = Magic(name, handler, help=help, kind=kind, modes=modes, epilog=epilog)
        MAGICS[name] = m
        return m

    return register


def cell_magic_of(source: str) -> Magic | None:
    """The registered magic a cell starts with (``%%name`` or ``%name``), if any."""
    for raw in source.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("%"):
            name = line.lstrip("%").split(None, 1)[0] if line.lstrip("%") else ""
            return MAGICS.get(name)
        return None
    return None


def node_kind_of(source: str) -> str:
    """A cell's node kind: its magic's kind, else ``python``."""
    m = cell_magic_of(source)
    return m.kind if m is not None and m.kind else "python"
