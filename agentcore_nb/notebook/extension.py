"""``%load_ext agentcore_nb``: the notebook features inside any IPython kernel, and a clean unload.

Registers every magic defined under ``agentcore_nb/notebook/magics/`` and shows
:class:`AgentcoreError` (user mistakes, refused actions) as one error line instead of a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

from ..errors import AgentcoreError
from . import magics as magics_pkg
from .deadline import CellTimeout
from .magics.framework import MAGICS, Magic
from .session import NotebookSession

_STATE_KEY = "_agentcore_session"


def _import_magic_modules() -> list[str]:
    """Import every magic module; one that fails to import is reported, the others still load."""
    failed = []
    for info in pkgutil.iter_modules(magics_pkg.__path__):
        if info.name != "framework" and not info.name.startswith("_"):
            try:
                importlib.import_module(f"{magics_pkg.__name__}.{info.name}")
            except Exception as exc:
                failed.append(f"{info.name} ({type(exc).__name__}: {exc})")
    return failed


def show_one_line(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
    """Custom exception handler: ``ErrorType: message`` as the cell's error output."""
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])


def _wrap(m: Magic, shell: Any, session: NotebookSession, mode: str) -> Any:
    if mode == "line":

        def line_magic(line: str) -> Any:
            return m.invoke(shell, session, line, None)

        line_magic.__doc__ = m.parser.format_help()
        return line_magic

    def cell_magic(line: str, cell: str) -> Any:
        return m.invoke(shell, session, line, cell)

    cell_magic.__doc__ = m.parser.format_help()
    return cell_magic


def register_magic(shell: Any, m: Magic) -> None:
    """Register a magic defined after ``%load_ext`` (e.g. in a notebook cell) on a loaded shell."""
    session = get_session(shell)
    if session is None:
        raise AgentcoreError(
            "agentcore_nb is not loaded in this shell", hint="run %load_ext agentcore_nb first"
        )
    for mode in m.modes:
        shell.register_magic_function(_wrap(m, shell, session, mode), magic_kind=mode, magic_name=m.name)


def get_session(shell: Any) -> NotebookSession | None:
    return getattr(shell, _STATE_KEY, None)


def load(shell: Any, session: NotebookSession | None = None) -> NotebookSession:
    """Install magics and error display on ``shell``; returns the notebook session."""
    existing = get_session(shell)
    if existing is not None:
        return existing
    session = session or NotebookSession()
    setattr(shell, _STATE_KEY, session)
    failed = _import_magic_modules()
    if failed:
        print(f"agentcore: some magics are unavailable: {'; '.join(failed)}", file=sys.stderr)
    for m in MAGICS.values():
        for mode in m.modes:
            shell.register_magic_function(_wrap(m, shell, session, mode), magic_kind=mode, magic_name=m.name)
    shell.set_custom_exc((AgentcoreError, CellTimeout), show_one_line)
    _install_tracking(shell, session)
    for hook in _LOAD_HOOKS:
        hook(shell, session)
    return session


def _install_tracking(shell: Any, session: NotebookSession) -> None:
    """Cells -> graph nodes (IPython hooks), and the graph comm channel when a kernel is present."""
    from .tracker import CellTracker

    session.tracker = CellTracker(shell, session)
    session.tracker.install()
    comm_manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if comm_manager is not None:
        from .comm import GraphChannel

        session.channel = GraphChannel(session.cells, comm_manager, session.session_id)
        session.channel.install()


def _uninstall_tracking(session: NotebookSession) -> None:
    for part in (session.channel, session.tracker):
        if part is not None:
            part.uninstall()
    session.channel = session.tracker = None


def unload(shell: Any) -> None:
    """Remove everything :func:`load` installed; the user's namespace is left alone."""
    session = get_session(shell)
    if session is None:
        return
    for hook in reversed(_UNLOAD_HOOKS):
        try:
            hook(shell, session)
        except Exception:
            pass
    _uninstall_tracking(session)
    table = shell.magics_manager.magics
    for m in MAGICS.values():
        for mode in m.modes:
            table[mode].pop(m.name, None)
    shell.set_custom_exc((), None)
    delattr(shell, _STATE_KEY)
    session.close()


#: Other notebook modules (cell tracking, comms, widgets) add setup/teardown here.
_LOAD_HOOKS: list[Any] = []
_UNLOAD_HOOKS: list[Any] = []


def on_load(fn: Any) -> Any:
    _LOAD_HOOKS.append(fn)
    return fn


def on_unload(fn: Any) -> Any:
    _UNLOAD_HOOKS.append(fn)
    return fn
