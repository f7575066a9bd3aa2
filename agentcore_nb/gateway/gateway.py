"""The gateway: one way to register, find and call every tool, with validation, scopes, spans and
events on each call.

A call: resolve ``name[@version]`` -> ask identity for ``tool:NAME`` -> validate the input ->
call the target within the tool's timeout -> validate the output. Every call is an
``execute_tool NAME`` span and an ``ActionEvent``; a failure is one :class:`ToolError` line.
Synchronous Python tools run inline in the caller's thread (the dispatch cost is what is left);
HTTP, OpenAPI and MCP targets run on the gateway's event loop with one shared HTTP client.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import inspect
import random
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from ..authz import authorize, one_call
from ..errors import AgentcoreError
from ..events import ActionEvent
from ..observability import conventions as conv
from ..observability import tracing
from ..runtime.emitting import emit as emit_event
from ..runtime.workers import LoopThread
from . import mcp_client
from . import openapi as openapi_mod
from .content import as_tool_result
from .openapi.call import call_openapi
from .registry import Registry
from .spec import (
    ToolError,
    ToolInputError,
    ToolOutputError,
    ToolSchemaError,
    ToolSpec,
    ToolTargetError,
    ToolTimeoutError,
    UnknownToolError,
    check_name,
    check_schema,
    schema_changes,
    schema_from_function,
    validation_error,
    validator_for,
)
from .targets import call_http, call_python, resolve_ref

if TYPE_CHECKING:
    from ..project import Project
    from ..runtime.context import NodeContext

_tracer = tracing.tracer("agentcore_nb.gateway")


@dataclass(slots=True)
class Registration:
    """What a register call did: ``created``, ``updated`` (same schema) or ``new-version``."""

    spec: ToolSpec
    action: str
    breaking: bool = False
    changes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        what = {"created": "registered", "updated": "updated", "new-version": "new version of"}[self.action]
        text = f"{what} {self.spec.ref}"
        if self.changes:
            text += f" ({'breaking' if self.breaking else 'compatible'}: {'; '.join(self.changes)})"
        return text


class OpenAPIRegistrations(builtins.list[Registration]):
    """The registrations of an OpenAPI import, and the operations refused with their reasons."""

    refused: builtins.list[tuple[str, str]]


def prefixed(prefix: str, name: str) -> str:
    """``prefix_name`` within MCP's 64 characters (a hash keeps long names distinct)."""
    full = re.sub(r"[^A-Za-z0-9_\-.]", "_", f"{prefix}_{name}")
    if len(full) <= 64:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{full[:55]}_{digest}"


def _words(name: str) -> str:
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ")


class Gateway:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.registry = Registry(project.database)
        self._live: dict[str, Callable[..., Any]] = {}
        self._imported: dict[str, Callable[..., Any]] = {}
        self._specs: dict[str, ToolSpec] | None = None
        self._stamp: tuple[int, int] | None = None
        self._versions: dict[str, ToolSpec] = {}
        self._validators: dict[tuple[str, int, str], Any] = {}
        self._builtins: dict[str, tuple[ToolSpec, Callable[..., Any]]] | None = None
        self._search_cache: tuple[int, list[str], Any] | None = None
        self._generation = 0
        self._lock = threading.RLock()
        self._loop: LoopThread | None = None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        #: Where MCP servers' stderr and the MCP SDK's log lines go (not the user's screen).
        self.log_path = Path(project.home) / "logs" / "mcp-servers.log"

    # ------------------------------------------------------------------ lookup
    def _current(self) -> dict[str, ToolSpec]:
        stamp = self.registry.stamp()  # another process of the project may have registered tools
        with self._lock:
            if self._specs is None or stamp != self._stamp:
                if self._specs is not None:
                    self._invalidate()
                self._stamp = stamp
                self._specs = self.registry.current()
            return self._specs

    def _invalidate(self) -> None:
        with self._lock:
            self._specs = None
            self._versions.clear()
            self._imported.clear()
            self._generation += 1

    def builtin_tools(self) -> dict[str, tuple[ToolSpec, Callable[..., Any]]]:
        """Built-in tools (the code interpreter's), listed and callable, not stored."""
        if self._builtins is None:
            found: dict[str, tuple[ToolSpec, Callable[..., Any]]] = {}
            try:
                from ..interpreter.tool import builtin_tools
            except ImportError:
                builtin_tools = list  # type: ignore[assignment]
            for t in builtin_tools():
                spec = ToolSpec(t["name"], t["description"], t["inputSchema"], t.get("outputSchema"),
                                target={"type": "builtin"}, timeout=float(t.get("timeout", 300)))  # fmt: skip
                found[spec.name] = (spec, t["handler"])
            self._builtins = found
        return self._builtins

    def list(self) -> builtins.list[ToolSpec]:
        """Current versions of registered tools, then the built-ins."""
        registered = list(self._current().values())
        names = {s.name for s in registered}
        return registered + [s for n, (s, _) in self.builtin_tools().items() if n not in names]

    def get(self, ref: str) -> ToolSpec:
        """A tool by ``name`` (current version) or ``name@version``."""
        if not isinstance(ref, str) or not ref:
            raise UnknownToolError(f"tool name must be a non-empty string, got {ref!r}")
        spec = self._current().get(ref)
        if spec is not None:
            return spec
        if ref in self.builtin_tools():
            return self.builtin_tools()[ref][0]
        name, _, version = ref.partition("@")
        if version:
            if not version.isdigit():
                raise UnknownToolError(
                    f"bad tool version in {ref!r}", hint="use NAME@N, e.g. getOrderStatus@1"
                )
            with self._lock:
                cached = self._versions.get(ref)
                if cached is None:
                    cached = self._versions[ref] = self.registry.get(name, int(version))
                return cached
        known = ", ".join(sorted(self._current())[:10]) or "none registered"
        raise UnknownToolError(f"unknown tool '{ref}'", hint=f"known tools: {known}")

    # ------------------------------------------------------------------ registering
    def register(self, definition: dict[str, Any] | ToolSpec, *, target: dict[str, Any] | None = None,
                 fn: Callable[..., Any] | None = None, timeout: float | None = None,
                 checked: bool = False) -> Registration:  # fmt: skip
        """Register (or re-register) a tool from an MCP-style definition and a target
        (``checked``: the schemas were already checked, as an OpenAPI import does in bulk)."""
        if isinstance(definition, ToolSpec):
            definition = {**definition.to_mcp(), "target": definition.target, "timeout": definition.timeout}
        if not isinstance(definition, dict):
            raise ToolSchemaError(f"a tool definition must be an object, got {type(definition).__name__}")
        name = check_name(definition.get("name"))
        description = definition.get("description") or ""
        if not isinstance(description, str):
            raise ToolSchemaError(f"tool {name}: description must be a string")
        input_schema = definition.get("inputSchema", {"type": "object"})
        output_schema = definition.get("outputSchema")
        if not checked:
            check_schema(input_schema, "inputSchema")
            if output_schema is not None:
                check_schema(output_schema, "outputSchema")
        elif not isinstance(input_schema, dict) or input_schema.get("type", "object") != "object":
            raise ToolSchemaError('inputSchema must describe an object ("type": "object")')
        tgt = target if target is not None else definition.get("target") or {"type": "none"}
        if fn is not None:
            tgt = {"type": "python", "ref": _ref_of(fn)}
        limit = float(timeout if timeout is not None else definition.get("timeout", 30.0))
        if not limit > 0:
            raise ToolSchemaError(f"tool {name}: timeout must be positive")
        spec = ToolSpec(name, description, input_schema, output_schema, target=tgt, timeout=limit)
        with self._lock:
            try:
                old: ToolSpec | None = self.registry.get(name)
            except UnknownToolError:
                old = None
            changed = old is not None and (
                old.input_schema != input_schema or old.output_schema != output_schema
            )
            self.registry.save(spec, new_version=changed)
            if fn is not None:
                self._live[name] = fn
            else:
                self._live.pop(name, None)
            self._invalidate()
        if old is None:
            return Registration(spec, "created")
        if not changed:
            return Registration(spec, "updated")
        breaking, changes = schema_changes(old.input_schema, input_schema)
        if old.output_schema != output_schema:
            changes.append("output schema changed")
            breaking = True
        return Registration(spec, "new-version", breaking, changes)

    def register_function(self, fn: Callable[..., Any], *, name: str | None = None,
                          description: str | None = None, input_schema: dict[str, Any] | None = None,
                          output_schema: dict[str, Any] | None = None,
                          timeout: float | None = None) -> ToolSpec:  # fmt: skip
        """A Python function as a tool; its schema comes from type hints and docstring unless given."""
        desc, derived_in, derived_out = schema_from_function(fn)
        definition = {"name": name or fn.__name__, "description": description or desc,
                      "inputSchema": input_schema or derived_in,
                      "outputSchema": output_schema if output_schema is not None else derived_out}  # fmt: skip
        return self.register(definition, fn=fn, timeout=timeout).spec

    def register_http(self, definition: dict[str, Any], url: str, *, method: str = "POST",
                      auth: dict[str, Any] | None = None) -> Registration:  # fmt: skip
        if not url.startswith(("http://", "https://")):
            raise ToolSchemaError(f"endpoint {url!r} must be an http(s) URL")
        return self.register(
            definition, target={"type": "http", "url": url, "method": method.upper(), "auth": auth}
        )

    def register_openapi(self, document: str | Path, *, base_url: str | None = None,
                         prefix: str | None = None, secrets: dict[str, str] | None = None,
                         strict: bool = False) -> OpenAPIRegistrations:  # fmt: skip
        """One tool per operation. The whole document is checked before anything is stored: a
        document-level fault registers nothing; an operation that cannot be built is refused and
        listed in ``.refused`` (with ``strict``, it fails the import)."""
        result = openapi_mod.import_document(document, base_url=base_url, secrets=secrets, strict=strict)
        for tool in result.tools:
            if prefix:
                tool["name"] = prefixed(prefix, tool["name"])
        openapi_mod.check_tools(result.tools)
        out = OpenAPIRegistrations(self.register(tool, checked=True) for tool in result.tools)
        out.refused = result.refused
        return out

    def register_mcp(self, server: str, *, prefix: str, env: dict[str, str] | None = None,
                     env_secrets: builtins.list[str] | None = None,
                     startup_timeout: float | None = None) -> builtins.list[Registration]:  # fmt: skip
        """Every tool of an MCP server (a URL, or a command to start over stdio), as ``prefix_tool``.

        A stdio server gets the SDK's minimal environment plus ``env`` (stored) and the
        ``env_secrets`` names (read at each call from the environment or ``secrets.json``)."""
        check_name(prefix)
        if (env or env_secrets) and server.startswith(("http://", "https://")):
            raise ToolSchemaError("--env/--env-secret apply to stdio servers (a command), not to a URL")
        probe = mcp_client.mcp_target(server, "", name=prefix, env=env, env_secrets=env_secrets,
                                      startup_timeout=startup_timeout)  # fmt: skip
        limit = float(startup_timeout or mcp_client.STARTUP_TIMEOUT) + 30
        try:
            tools = self._run(mcp_client.list_tools(probe, log=self.log_path), timeout=limit)
        except ToolError:
            raise
        except Exception as exc:
            raise ToolTargetError(
                f"MCP server {prefix}: cannot list its tools: {type(exc).__name__}: {exc}"[:300]
            ) from None
        found = []
        for t in tools:
            target = {**probe, "tool": t.name}
            output = t.output_schema
            if isinstance(output, dict) and set(output.get("properties", {})) == {"result"}:
                output, target["unwrap"] = output["properties"]["result"], True  # the SDK's wrapper
            definition = {"name": prefixed(prefix, t.name), "description": t.description or "",
                          "inputSchema": t.input_schema, "outputSchema": output}  # fmt: skip
            try:  # every tool checked before any is stored: all or nothing
                check_schema(definition["inputSchema"], "inputSchema")
                if output is not None:
                    check_schema(output, "outputSchema")
            except ToolSchemaError as exc:
                raise ToolSchemaError(f"MCP server {prefix}: tool {t.name}: {exc}") from None
            found.append((definition, target))
        return [self.register(definition, target=target) for definition, target in found]

    def remove(self, name: str) -> int:
        with self._lock:
            n = self.registry.remove(name)
            self._live.pop(name, None)
            self._invalidate()
        return n

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 5) -> builtins.list[tuple[ToolSpec, float]]:
        """Tools ranked by similarity of the query to their names and descriptions."""
        if not isinstance(query, str) or not query.strip():
            raise ToolError("tool search needs a non-empty query")
        from ..memory.embedders import embed, get_embedder

        embedder = get_embedder()
        tools = self.list()
        with self._lock:
            cache = self._search_cache
            names = [t.name for t in tools]
            if cache is None or cache[0] != self._generation or cache[1] != names:
                matrix = (
                    embed(embedder, [f"{_words(t.name)}. {t.description}" for t in tools]) if tools else None
                )
                cache = self._search_cache = (self._generation, names, matrix)
        if cache[2] is None:
            return []
        scores = cache[2] @ embed(embedder, [query])[0]
        order = scores.argsort()[::-1][:k]
        return [(tools[i], float(scores[i])) for i in order]

    # ------------------------------------------------------------------ calling
    def _validator(self, spec: ToolSpec, which: str) -> Any:
        key = (spec.name, spec.version, which)
        found = self._validators.get(key)
        if found is None:
            schema = spec.input_schema if which == "input" else spec.output_schema
            found = self._validators[key] = validator_for(schema or {})
        return found

    def _prepare(self, ref: str, arguments: Any, token: str | None, session_id: str | None) -> ToolSpec:
        spec = self.get(ref)
        authorize(self.project.services, token, f"tool:{spec.name}", session_id=session_id)
        if not isinstance(arguments, dict):
            raise ToolInputError(f"input: arguments must be an object, got {type(arguments).__name__}")
        problem = validation_error(self._validator(spec, "input"), arguments, "input")
        if problem:
            raise ToolInputError(f"{spec.name}: {problem}")
        return spec

    def _check_output(self, spec: ToolSpec, value: Any) -> Any:
        if spec.target.get("type") == "openapi" and "responses" in spec.target:
            return value  # checked by the target against the schema of the status actually returned
        if spec.output_schema is not None:
            rich = as_tool_result(value) if spec.target.get("type") == "mcp" else None
            checked = value if rich is None else rich.structured
            if rich is not None and "structuredContent" not in rich:
                raise ToolOutputError(
                    f"{spec.name}: output: no structuredContent, but the tool has an outputSchema"
                )
            problem = validation_error(self._validator(spec, "output"), checked, "output")
            if problem:
                raise ToolOutputError(f"{spec.name}: {problem}")
        return value

    def _function(self, spec: ToolSpec) -> Callable[..., Any]:
        """A Python target's function: the live one from the notebook, else its import (once)."""
        fn = self._live.get(spec.name)
        if fn is None:
            ref = spec.target["ref"]
            fn = self._imported.get(ref)
            if fn is None:
                fn = self._imported[ref] = resolve_ref(ref)
        return fn

    def _sync_target(self, spec: ToolSpec) -> Callable[..., Any] | None:
        """The function to call inline for synchronous Python targets, else None."""
        if spec.target.get("type") == "python":
            fn = self._function(spec)
            return None if inspect.iscoroutinefunction(fn) else fn
        return None

    def call(self, ref: str, arguments: dict[str, Any] | None = None, *, token: str | None = None,
             session_id: str | None = None, ctx: NodeContext | None = None,
             progress: mcp_client.ProgressFn | None = None, echo: Any = None) -> Any:  # fmt: skip
        """Call a tool and return its output (raises :class:`ToolError` with one line).

        ``progress(progress, total, message)`` receives an MCP server's progress notifications;
        ``echo`` (a text stream) also shows an MCP server's stderr, which otherwise goes only to
        the project's log and the span."""
        arguments = {} if arguments is None else arguments
        with one_call(), _CallTrace(self, ref, arguments, ctx) as record:
            record.hooks = mcp_client.CallHooks(progress, echo, record.span, self.log_path)
            spec = record.spec = self._prepare(ref, arguments, token, session_id or _session_of(ctx))
            fn = self._sync_target(spec)
            if fn is not None:
                try:
                    value = fn(**arguments)
                except Exception as exc:
                    raise _target_error(spec, exc) from None
            else:
                value = self._run(
                    self._dispatch(spec, arguments, token, session_id, ctx, record.hooks),
                    timeout=spec.timeout + 5,
                )
            record.output = self._check_output(spec, value)
            return record.output

    async def acall(self, ref: str, arguments: dict[str, Any] | None = None, *, token: str | None = None,
                    session_id: str | None = None, ctx: NodeContext | None = None,
                    progress: mcp_client.ProgressFn | None = None, echo: Any = None) -> Any:  # fmt: skip
        arguments = {} if arguments is None else arguments
        with one_call(), _CallTrace(self, ref, arguments, ctx) as record:
            record.hooks = mcp_client.CallHooks(progress, echo, record.span, self.log_path)
            spec = record.spec = self._prepare(ref, arguments, token, session_id or _session_of(ctx))
            value = await self._dispatch(spec, arguments, token, session_id, ctx, record.hooks)
            record.output = self._check_output(spec, value)
            return record.output

    async def _dispatch(self, spec: ToolSpec, arguments: dict[str, Any], token: str | None,
                        session_id: str | None, ctx: NodeContext | None,
                        hooks: mcp_client.CallHooks | None = None) -> Any:  # fmt: skip
        kind = spec.target.get("type")
        limit = _limit(spec, ctx)
        try:
            async with asyncio.timeout(limit):
                if kind == "python":
                    return await call_python(self._function(spec), arguments)
                if kind == "builtin":
                    handler = self.builtin_tools()[spec.name][1]
                    sid = session_id or _session_of(ctx)
                    return await asyncio.to_thread(
                        handler, arguments, services=self.project.services, token=token, session_id=sid
                    )
                if kind == "http":
                    return await call_http(self._http(), spec.target, arguments, spec.timeout)
                if kind == "openapi":
                    return await call_openapi(self._http(), spec.target, arguments, spec.timeout)
                if kind == "mcp":
                    return await mcp_client.call_tool(spec.target, arguments, hooks)
        except TimeoutError:
            raise ToolTimeoutError(f"{spec.name} timed out after {limit:g}s") from None
        except Exception as exc:
            raise _target_error(spec, exc) from None
        if kind == "none":
            raise ToolTargetError(
                f"tool {spec.name} has no target yet",
                hint="bind one: agentcore gateway register --name NAME --schema FILE --url URL "
                "(or --python module:function, --openapi FILE, --mcp CMD|URL)",
            )
        raise ToolTargetError(f"tool {spec.name} has an unknown target type {kind!r}")

    # ------------------------------------------------------------------ the loop and the HTTP client
    def _loop_thread(self) -> LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def _http(self) -> httpx.AsyncClient:
        """One pooled client per event loop (the gateway's own, or the caller's for ``acall``)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
                follow_redirects=False,
                trust_env=False,  # no ~/.netrc credentials, no proxy from the environment
            )
        return client

    def _run(self, coro: Any, *, timeout: float) -> Any:
        """Run ``coro`` on the gateway's loop; a timeout or an interrupt (Ctrl-C, a cell interrupt)
        cancels it there and waits briefly for the cancellation to be sent (MCP's
        ``notifications/cancelled``) and the server stopped."""
        done = threading.Event()

        async def guarded() -> Any:
            try:
                return await coro
            finally:
                done.set()

        future = self._loop_thread().submit(guarded())
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            done.wait(5)
            raise ToolTimeoutError(f"tool call did not finish within {timeout:g}s") from None
        except BaseException:
            future.cancel()
            done.wait(5)
            raise

    def close(self) -> None:
        if self._loop is not None:
            client = self._clients.pop(self._loop.loop(), None)
            if client is not None:
                try:
                    self._loop.submit(client.aclose()).result(timeout=5)
                except Exception:
                    pass
            self._loop.shutdown()
            self._loop = None


def _limit(spec: ToolSpec, ctx: NodeContext | None) -> float:
    """The tool's timeout, or the node's when it is shorter (the node's timer cannot stop a call
    running in a thread; this one cancels it, and an MCP server is told)."""
    node_limit = getattr(getattr(getattr(ctx, "node", None), "policy", None), "timeout", None)
    if isinstance(node_limit, int | float) and 0 < node_limit < spec.timeout:
        return float(node_limit)
    return spec.timeout


def _session_of(ctx: NodeContext | None) -> str | None:
    return ctx.session_id if ctx is not None else None


def _target_error(spec: ToolSpec, exc: Exception) -> ToolError:
    """A target's failure as one ToolError line (tool errors pass through as they are)."""
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, AgentcoreError):
        return ToolTargetError(f"{spec.name}: {exc}")
    return ToolTargetError(f"{spec.name} raised {type(exc).__name__}: {exc}")


def _ref_of(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "") or "__main__"
    return f"{module}:{getattr(fn, '__qualname__', getattr(fn, '__name__', 'tool'))}"


class _CallTrace:
    """The span and the ActionEvent of one call (the output or the error, and how long it took)."""

    __slots__ = (
        "_token",
        "arguments",
        "call_id",
        "ctx",
        "gateway",
        "hooks",
        "output",
        "ref",
        "span",
        "spec",
        "t0",
    )

    def __init__(self, gateway: Gateway, ref: str, arguments: Any, ctx: NodeContext | None) -> None:
        self.gateway, self.ref, self.arguments, self.ctx = gateway, ref, arguments, ctx
        self.spec: ToolSpec | None = None
        self.output: Any = None
        self.hooks: mcp_client.CallHooks | None = None

    def __enter__(self) -> _CallTrace:
        self.call_id = f"{random.getrandbits(64):016x}"  # uuid4 reads os.urandom: 60 us here
        tracer = self.ctx.tracer if self.ctx is not None else _tracer
        parent = trace.set_span_in_context(self.ctx.span) if self.ctx is not None else None
        self.span = tracer.start_span(
            conv.span_name(conv.EXECUTE_TOOL, str(self.ref)),
            context=parent,
            attributes={
                conv.OPERATION: conv.EXECUTE_TOOL,
                conv.TOOL_NAME: str(self.ref),
                conv.TOOL_CALL_ID: self.call_id,
                **conv.content_attributes(tool_arguments=self.arguments),
            },
        )
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        duration = (time.perf_counter() - self.t0) * 1000
        name = self.spec.name if self.spec else str(self.ref)
        status = (
            "succeeded"
            if exc is None
            else ("denied" if type(exc).__name__ == "NotPermittedError" else "failed")
        )
        error = "" if exc is None else str(exc)
        if self.spec is not None:
            self.span.set_attribute(conv.TOOL_TYPE, self.spec.target.get("type", "none"))
        if exc is None:
            self.span.set_attributes(conv.content_attributes(tool_result=self.output))
        else:
            self.span.set_status(StatusCode.ERROR, error)
            self.span.set_attribute(conv.ERROR_TYPE, type(exc).__name__)
        self.span.end()
        event = ActionEvent(action=f"tool:{name}", input=conv.scrub(self.arguments),
                            output=conv.scrub(self.output), status=status,
                            error=conv.redact(error), duration_ms=round(duration, 3),
                            attributes={"tool.call_id": self.call_id,
                                        "tool.version": self.spec.version if self.spec else 0})  # fmt: skip
        try:  # the seam fills run, node, session, trace and span ids (ad-hoc run outside any)
            log = self.gateway.project.event_log if self.ctx is None else None
            emit_event(event, ctx=self.ctx, log=log, span=self.span)
        except Exception:
            pass  # an unserialisable output must not turn a finished call into a failure
        if exc is not None and not isinstance(exc, AgentcoreError) and isinstance(exc, Exception):
            raise ToolTargetError(f"{name} failed: {type(exc).__name__}: {exc}") from None
