"""Agents in cells.

- ``%%agent NAME [--tools a,b] [--memory NS] [--model M] [--max-steps N] ...``: define an agent; the
  cell body is its instructions.
- ``%agent NAME "request"``: run it; the answer streams into the cell, then a compact trace.
- ``%agent`` (no arguments): list the defined agents.
- ``%subagent PARENT CHILD``: let PARENT call CHILD (a nested agent node with its own trace).
"""

from __future__ import annotations

import argparse
import contextvars
import queue
import sys
import threading
from typing import Any

from ...agent.registry import AgentRegistry
from ...agent.runner import AgentResult, run
from ...agent.spec import Agent, AgentError
from .framework import MagicCall, UsageError, magic
from .node import node_name, positive, seconds
from .trace import show_after_run

_DEFINE_ONLY = ("tools", "memory", "model", "max_steps", "max_tokens", "timeout", "description", "remember")


def _registry(call: MagicCall) -> AgentRegistry:
    return call.session.project.services["agents"]  # type: ignore[no-any-return]


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def agent_from_args(args: argparse.Namespace, body: str, subagents: list[Agent] | None = None) -> Agent:
    """The agent a ``%%agent`` cell defines (the export builds it with the same function)."""
    remember: str | bool | None = args.remember
    if args.remember == "no":
        remember = False
    return Agent(
        args.name,
        body.strip(),
        model=args.model,
        tools=args.tools or [],
        memory_namespace=args.memory,
        max_steps=args.max_steps or 8,
        max_tokens=args.max_tokens,
        timeout=args.timeout,
        description=args.description or "",
        remember=remember,
        subagents=list(subagents or []),
    )


def define(call: MagicCall) -> Agent:
    args = call.args
    if args.request:
        raise UsageError(
            f"%%agent {args.name}: the cell body is the instructions; no request on the first line"
        )
    if args.replay or args.replay_tools:
        raise UsageError('%%agent defines an agent; replay a run with %agent NAME "request" --replay RUN_ID')
    registry = _registry(call)
    old = registry.find(args.name)
    agent = agent_from_args(args, call.cell or "", list(old.subagents) if old is not None else [])
    registry.define(agent)
    call.metadata["config"] = {"agent": agent.to_config()}
    call.metadata["agent"] = agent.name
    parts = [f"agent {agent.name}: model {agent.model_name or 'default'}"]
    if agent.tools:
        parts.append(f"tools {', '.join(agent.tools)}")
    if agent.memory_namespace:
        parts.append(f"memory {agent.memory_namespace}")
    if agent.subagents:
        parts.append(f"sub-agents {', '.join(a.name for a in agent.subagents)}")
    print("; ".join(parts))
    return agent


def run_streaming(call: MagicCall, agent: Agent, request: str, **kwargs: Any) -> AgentResult:
    """Run in a worker thread and print answer text here, as it arrives (the cell's own thread
    owns the output, so the text lands in this cell)."""
    top = f"{agent.name}/step-"
    deltas: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    box: dict[str, Any] = {}

    def sink(node_id: str, text: str) -> None:
        if node_id.startswith(top) and "/" not in node_id[len(top) :]:
            deltas.put(text)

    def work() -> None:
        try:
            box["result"] = run(
                agent,
                request,
                project=call.session.project,
                session_id=call.session.session_id,
                stream=sink,
                **kwargs,
            )
        except BaseException as exc:
            box["error"] = exc
        finally:
            deltas.put(None)

    # the cell's context goes along: the agent's run is a child of the cell's node and span
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(work,), name=f"agent-{agent.name}", daemon=True)
    worker.start()
    wrote = False
    pending = ""
    while True:
        try:
            piece = deltas.get(timeout=0.05)
        except queue.Empty:
            piece = ""
        if piece is None:
            break
        pending += piece
        cut = len(pending) if not piece else pending.rfind("\n") + 1  # whole lines, or what a pause left
        if cut:
            sys.stdout.write(pending[:cut])
            sys.stdout.flush()
            wrote, pending = True, pending[cut:]
    if pending:
        sys.stdout.write(pending)
        wrote = True
    worker.join()
    if wrote:
        print()
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


def invoke(call: MagicCall) -> AgentResult | None:
    args = call.args
    registry = _registry(call)
    if not args.name:
        names = registry.names()
        print("agents: " + (", ".join(names) if names else "none yet (define one with %%agent NAME)"))
        return None
    given = [k for k in _DEFINE_ONLY if getattr(args, k) not in (None, [], False)]
    if given:
        raise UsageError(
            f"%agent {args.name}: --{given[0].replace('_', '-')} belongs to the definition",
            hint=f"put it on the %%agent {args.name} line",
        )
    agent = registry.get(args.name)
    request = " ".join(args.request).strip()
    if not request:
        raise UsageError(
            f'%agent {args.name}: what should it do? e.g. %agent {args.name} "Where is my order 1234?"'
        )
    if args.replay_tools and not args.replay:
        raise UsageError("--replay-tools needs --replay RUN_ID")
    call.metadata["config"] = {"agent": agent.to_config(), "request": request}
    call.metadata["agent"] = agent.name
    call.metadata["defines"] = ["_agent_result"]
    result = run_streaming(call, agent, request, replay=args.replay, replay_tools=args.replay_tools)
    call.define("_agent_result", result)
    call.metadata["defines"] = ["_agent_result"]
    if result.note:
        print(f"[{result.note}]")
    call.session.last_run_id = result.run_id
    if not result.ok:
        if not args.no_trace:
            show_after_run(call, result.run_id)
            print(result.trace(), file=sys.stderr)
        raise AgentError(result.error)
    if not args.no_trace:
        print(result.trace())
        show_after_run(call, result.run_id)
    return None


@magic(
    "agent",
    help='Define an agent (%%agent NAME: the cell is its instructions) or run one (%agent NAME "request").',
    kind="agent",
    modes=("line", "cell"),
    epilog="Examples:\n  %%agent support --tools getOrderStatus --memory support/refunds\n  You help customers with orders.\n\n"
    '  %agent support "Where is my order 1234?"\n  %agent support "Where is my order 1234?" --replay 3f2a --replay-tools\n  %agent',
)
def agent_magic(call: MagicCall) -> Any:
    if call.cell is not None:
        if not call.args.name:
            raise UsageError("%%agent needs a name", hint="%%agent NAME [--tools a,b] [--memory NS]")
        define(call)
        return None
    invoke(call)
    return None


_p = agent_magic.parser
_p.add_argument("name", nargs="?", type=node_name, default=None, help="the agent's name")
_p.add_argument("request", nargs="*", help="(%agent) what to ask")
_p.add_argument("--tools", "-t", type=_names, default=None, help="(%%agent) gateway tools, comma-separated")
_p.add_argument(
    "--memory", "-m", default=None, metavar="NS", help="(%%agent) memory namespace to recall from"
)
_p.add_argument("--model", default=None, help="(%%agent) PROVIDER:MODEL (default: %%model)")
_p.add_argument("--max-steps", type=positive, default=None, help="(%%agent) stop a runaway after N steps (8)")
_p.add_argument("--max-tokens", type=positive, default=None, help="(%%agent) token budget of one run")
_p.add_argument("--timeout", type=seconds, default=None, help="(%%agent) seconds for one run")
_p.add_argument("--description", default=None, help="(%%agent) how a parent agent sees it")
_p.add_argument(
    "--remember", default=None, metavar="NS|no", help="(%%agent) where finished turns are written"
)
_p.add_argument(
    "--replay", default=None, metavar="RUN_ID", help="(%agent) answer model calls from a recorded run"
)
_p.add_argument("--replay-tools", action="store_true", help="(%agent) replay tool results too")
_p.add_argument("--no-trace", action="store_true", help="(%agent) print only the answer")


@magic(
    "subagent",
    help="Let PARENT call CHILD as a sub-agent (a nested agent node with its own trace subtree).",
    epilog="Example:\n  %subagent support billing",
)
def subagent_magic(call: MagicCall) -> Any:
    parent = _registry(call).link(call.args.parent, call.args.child)
    print(f"agent {parent.name}: sub-agents {', '.join(a.name for a in parent.subagents)}")


subagent_magic.parser.add_argument("parent", type=node_name)
subagent_magic.parser.add_argument("child", type=node_name)

__all__ = ["agent_from_args", "agent_magic", "subagent_magic"]
