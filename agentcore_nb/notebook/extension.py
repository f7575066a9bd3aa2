"""``%load_ext agentcore_nb``: the notebook features inside any IPython kernel, and a clean unload.

Registers every magic defined under ``agentcore_nb/notebook/magics/`` and shows
:class:`AgentcoreError` (user mistakes, refused actions) as one error line instead of a traceback.

The AgentCore kernel loads it *lazily*: at start-up only the magics' names (read from their
modules' source, not imported), the comm target and a first-cell hook are installed; the cell
tracking, the engine and the magic modules load when the first cell, magic or comm needs them. So
the kernel starts about as fast, and as small, as the stock one.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
import threading
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError
from . import magics as magics_pkg
from .deadline import CellTimeout
from .magics.framework import MAGICS, Magic
from .session import NotebookSession

_STATE_KEY = "_agentcore_session"
_READY_LOCK = threading.RLock()


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


_DECORATOR = re.compile(r"^@magic\(\s*\n?\s*[\"']([\w-]+)[\"'](.*?)\)\s*\ndef ", re.S | re.M)
_KIND = re.compile(r"\bkind\s*=\s*[\"'](\w+)[\"']")
_MODES = re.compile(r"\bmodes\s*=\s*(\([^)]*\))")


def magic_manifest() -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """``name -> (kind, modes)`` of every ``@magic(...)`` under ``magics/``, read from the source
    text (nothing imported, nothing parsed: about a millisecond), so the names can be registered
    before their modules load."""
    found: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for path in sorted(Path(magics_pkg.__path__[0]).glob("*.py")):
        if path.stem in ("framework", "__init__") or path.stem.startswith("_"):
            continue
        try:
            source = path.read_text("utf-8")
        except OSError:
            continue
        for match in _DECORATOR.finditer(source):
            args = match.group(2)
            kind = _KIND.search(args)
            modes = _MODES.search(args)
            try:
                mode_tuple = tuple(ast.literal_eval(modes.group(1))) if modes else ("line",)
            except (ValueError, SyntaxError):
                continue
            found[match.group(1)] = (kind.group(1) if kind else None, mode_tuple)
    return found


def load(shell: Any, session: NotebookSession | None = None, *, lazy: bool = False) -> NotebookSession:
    """Install magics and error display on ``shell``; returns the notebook session.

    ``lazy`` (the AgentCore kernel at start-up): defer the imports to the first cell, magic or comm.
    """
    existing = get_session(shell)
    if existing is not None:
        return existing
    session = session or NotebookSession()
    setattr(shell, _STATE_KEY, session)
    shell.set_custom_exc((AgentcoreError, CellTimeout), show_one_line)
    if lazy:
        _install_bootstrap(shell, session)
    else:
        _ready(shell, session)
    return session


def _ready(shell: Any, session: NotebookSession) -> None:
    """Everything, now: magic modules, their registration, cell tracking, the comm channel."""
    with _READY_LOCK:  # the first cell (main thread) or a comm opened on a subshell's thread
        if getattr(session, "_ready", False):
            return
        session._ready = True  # type: ignore[attr-defined]
        _ready_now(shell, session)


def _ready_now(shell: Any, session: NotebookSession) -> None:
    _remove_bootstrap(shell, session)
    failed = _import_magic_modules()
    if failed:
        print(f"agentcore: some magics are unavailable: {'; '.join(failed)}", file=sys.stderr)
    for m in MAGICS.values():
        for mode in m.modes:
            shell.register_magic_function(_wrap(m, shell, session, mode), magic_kind=mode, magic_name=m.name)
    _install_tracking(shell, session)
    for hook in _LOAD_HOOKS:
        hook(shell, session)


def _install_bootstrap(shell: Any, session: NotebookSession) -> None:
    """Start-up: the magics' names (each loads everything on first use), the comm target, and a
    first-cell hook; automagic is off for those names from the start."""
    manifest = magic_manifest()
    from .magics.framework import Magic as MagicClass

    def first_cell(info: Any) -> None:
        if info.store_history:
            _ready(shell, session)
            if session.tracker is not None:
                session.tracker.pre_run_cell(info)

    def stub(name: str, mode: str) -> Any:
        def run_line(line: str, cell: str | None = None) -> Any:
            _ready(shell, session)
            fn = shell.magics_manager.magics[mode].get(name)
            return fn(line) if mode == "line" else fn(line, cell)

        if mode == "line":
            return lambda line: run_line(line)
        return run_line

    for name, (kind, modes) in manifest.items():
        if name not in MAGICS:  # placeholders: kinds for cell analysis, names for the automagic guard
            MAGICS[name] = MagicClass(name, lambda call: None, help="(loading)", kind=kind, modes=modes)
        for mode in modes:
            shell.register_magic_function(stub(name, mode), magic_kind=mode, magic_name=name)
    shell.events.register("pre_run_cell", first_cell)
    session._bootstrap = first_cell  # type: ignore[attr-defined]
    from .automagic import install_automagic_guard

    session._automagic = install_automagic_guard(shell)  # type: ignore[attr-defined]
    comm_manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if comm_manager is not None:
        from .comm import TARGET

        def opened(comm: Any, msg: Any) -> Any:
            _ready(shell, session)
            return session.channel._opened(comm, msg)

        comm_manager.register_target(TARGET, opened)


def _remove_bootstrap(shell: Any, session: NotebookSession) -> None:
    first_cell = getattr(session, "_bootstrap", None)
    if first_cell is not None:
        session._bootstrap = None  # type: ignore[attr-defined]
        try:
            shell.events.unregister("pre_run_cell", first_cell)
        except ValueError:
            pass
    guard = getattr(session, "_automagic", None)
    if guard is not None:
        guard.__dict__.pop("check", None)
        session._automagic = None  # type: ignore[attr-defined]
    for name in [n for n, m in MAGICS.items() if m.help == "(loading)"]:
        del MAGICS[name]


def _install_tracking(shell: Any, session: NotebookSession) -> None:
    """Cells -> graph nodes (IPython hooks), and the graph comm channel when a kernel is present."""
    from .tracker import CellTracker

    session.tracker = CellTracker(shell, session)
    session.tracker.install()
    comm_manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if comm_manager is not None:
        from .comm import GraphChannel

        session.channel = GraphChannel(session.cells, comm_manager, session.session_id, session)
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
    _remove_bootstrap(shell, session)
    comm_manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if comm_manager is not None and session.channel is None:
        from .comm import TARGET

        comm_manager.targets.pop(TARGET, None)
    for hook in reversed(_UNLOAD_HOOKS):
        try:
            hook(shell, session)
        except Exception:
            pass
    _uninstall_tracking(session)
    table = shell.magics_manager.magics
    for name in {*MAGICS, *magic_manifest()}:
        for mode in ("line", "cell"):
            table[mode].pop(name, None)
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
