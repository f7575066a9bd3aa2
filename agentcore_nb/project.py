"""A project: its state directory and the components opened on it, lazily, once per process.

Components register a service factory when their package is imported (``memory``, ``gateway``,
``interpreter``, ``identity``, ...). ``project.services["memory"]`` opens the memory store on first
use; node executors reach the same objects through ``ctx.services``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .db import Database
from .errors import AgentcoreError
from .eventlog.duckdb import DuckDBEventLog
from .home import DB_FILENAME, state_dir

ServiceFactory = Callable[["Project"], Any]

_FACTORIES: dict[str, ServiceFactory] = {}
#: Package whose import registers a service, for services asked for before their package loaded.
SERVICE_PROVIDERS: dict[str, str] = {
    "memory": "agentcore_nb.memory",
    "gateway": "agentcore_nb.gateway",
    "interpreter": "agentcore_nb.interpreter",
    "identity": "agentcore_nb.identity",
    "models": "agentcore_nb.models",
    "mesh": "agentcore_nb.mesh",
}


#: Components that take part in every run of a project's runtime (memory context, identity tokens).
_HOOK_FACTORIES: dict[str, Callable[[Project], Any]] = {}
#: Packages imported when a project runtime is built, so their run hooks are registered by then:
#: every component with a run hook is wired here, whatever was imported first.
HOOK_PROVIDERS: tuple[str, ...] = ("agentcore_nb.identity", "agentcore_nb.memory")


def register_run_hook(name: str, factory: Callable[[Project], Any]) -> None:
    """Add ``factory(project)`` (a :class:`RunHook` or None) to every project runtime built later."""
    _HOOK_FACTORIES[name] = factory


_MISSING: set[str] = set()


def register_service(name: str, factory: ServiceFactory) -> None:
    """Make ``project.services[name]`` build its object with ``factory(project)`` on first use."""
    _FACTORIES[name] = factory
    _MISSING.discard(name)


class _Services(Mapping[str, Any]):
    def __init__(self, project: Project) -> None:
        self._project = project
        self._made: dict[str, Any] = {}
        self._lock = threading.RLock()

    def __getitem__(self, name: str) -> Any:
        made = self._made.get(name)
        if made is not None:
            return made
        with self._lock:
            if name in self._made:
                return self._made[name]
            factory = _FACTORIES.get(name)
            if factory is None and name in SERVICE_PROVIDERS and name not in _MISSING:
                try:
                    importlib.import_module(SERVICE_PROVIDERS[name])
                except ImportError:
                    _MISSING.add(name)  # asked on every tool call: do not search sys.path again
                factory = _FACTORIES.get(name)
            if factory is None:
                raise KeyError(name)
            obj = factory(self._project)
            self._made[name] = obj
            return obj

    def __contains__(self, name: object) -> bool:
        return name in self._made or name in _FACTORIES or name in SERVICE_PROVIDERS

    def __iter__(self) -> Iterator[str]:
        return iter(self._made)

    def __len__(self) -> int:
        return len(self._made)

    def set(self, name: str, obj: Any) -> None:
        """Install an already-built service (tests, or an application wiring its own)."""
        with self._lock:
            self._made[name] = obj

    def opened(self) -> dict[str, Any]:
        return dict(self._made)


_CURRENT: dict[Path, Project] = {}
_CURRENT_LOCK = threading.Lock()


class Project:
    """The state directory (``$AGENTCORE_HOME`` or ``./.agentcore``) and everything kept in it."""

    @classmethod
    def current(cls, home: str | Path | None = None) -> Project:
        """This process's project for ``home`` (default: the state directory), made once.

        The notebook's magics and ``agentcore run local`` use it, so a cell that calls
        ``Project.current()`` reaches the very services (interpreter sessions, memory) they use.
        """
        path = Path(home).expanduser().resolve() if home is not None else state_dir().resolve()
        with _CURRENT_LOCK:
            found = _CURRENT.get(path)
            if found is None:
                found = _CURRENT[path] = cls(path)
            return found

    def __init__(self, home: str | Path | None = None) -> None:
        self.home = Path(home).expanduser().resolve() if home is not None else state_dir()
        self.home.mkdir(parents=True, exist_ok=True)
        self.services = _Services(self)
        self._database: Database | None = None
        self._event_log: DuckDBEventLog | None = None
        self._runtime: Any = None
        self._tracing: Any = None
        self._lock = threading.RLock()

    @property
    def database_path(self) -> Path:
        return self.home / DB_FILENAME

    @property
    def database(self) -> Database:
        """The shared DuckDB file (event log, memory, tool registry)."""
        with self._lock:
            if self._database is None:
                self._database = Database.open(self.database_path)
            return self._database

    @property
    def event_log(self) -> DuckDBEventLog:
        with self._lock:
            if self._event_log is None:
                self._event_log = DuckDBEventLog.shared(self.database_path)
            return self._event_log

    def runtime(self, **kwargs: Any) -> Any:
        """The project's runtime (durable log, services); built once, kwargs apply the first time."""
        from .runtime.runtime import Runtime

        with self._lock:
            if self._runtime is None:
                hooks = list(kwargs.pop("hooks", ()))
                for module in HOOK_PROVIDERS:
                    importlib.import_module(module)
                for factory in _HOOK_FACTORIES.values():
                    hook = factory(self)
                    if hook is not None:
                        hooks.append(hook)
                if "tracer_provider" not in kwargs:
                    kwargs["tracer_provider"] = self.tracing.switching
                self._runtime = Runtime(
                    self.event_log,
                    services=self.services,  # type: ignore[arg-type]
                    hooks=hooks,
                    **kwargs,
                )
            return self._runtime

    @property
    def tracing(self) -> Any:
        """The project's span store and tracer provider (used when the user configured no SDK)."""
        from .observability.tracing import ProjectTracing

        with self._lock:
            if self._tracing is None:
                self._tracing = ProjectTracing(self.database)
            return self._tracing

    def path(self, *parts: str) -> Path:
        """A path inside the state directory (parents created)."""
        p = self.home.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def close(self) -> None:
        with _CURRENT_LOCK:
            if _CURRENT.get(self.home) is self:
                del _CURRENT[self.home]
        for obj in reversed(list(self.services.opened().values())):
            close = getattr(obj, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    pass
        if self._runtime is not None:
            self._runtime.close()  # closes the event log too
        elif self._event_log is not None:
            self._event_log.close()
        if self._tracing is not None:
            self._tracing.close()
        if self._database is not None:
            self._database.close()
        self._runtime = self._event_log = self._database = self._tracing = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def require(services: Mapping[str, Any], name: str, what: str) -> Any:
    """``services[name]`` or a clear error naming what needed it."""
    try:
        return services[name]
    except KeyError:
        raise AgentcoreError(f"{what} needs the '{name}' service, which is not available") from None
