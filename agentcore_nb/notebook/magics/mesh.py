"""``%mesh send|request|serve|stop|status|dead``: agents on the event bus from a cell."""

from __future__ import annotations

import json
from typing import Any

from ...mesh.message import MeshError
from ..nodes import mesh_config
from .framework import MagicCall, UsageError, magic
from .tables import table_bundle

#: Subscriptions started by ``%mesh serve`` in this kernel, by topic.
_SERVING: dict[tuple[int, str], Any] = {}


def _bus(call: MagicCall) -> Any:
    return call.session.project.services["mesh"]


def _payload(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"%mesh: the payload is not JSON: {exc.msg}", hint='e.g. \'{"item": "burger"}\''
        ) from None


@magic(
    "mesh",
    help="Agents on the event bus: send, request, serve an agent on a topic, stop, status, dead letters.",
    kind="mesh",
    epilog="Examples:\n  %mesh serve kitchen.grill --agent grill\n"
    '  %mesh request kitchen.grill \'{"request": "one burger"}\'\n'
    "  %mesh send kitchen.audit '{\"order\": 42}'\n  %mesh status\n  %mesh stop kitchen.grill",
)
def mesh_magic(call: MagicCall) -> Any:
    args = call.args
    bus = _bus(call)
    sub = args.subcommand
    if sub == "send":
        payload = _payload(args.payload)
        call.metadata["config"] = mesh_config(args, payload)
        print(f"sent {bus.publish(args.topic, payload, key=args.key)} to {args.topic}")
        return None
    if sub == "request":
        payload = _payload(args.payload)
        call.metadata["config"] = mesh_config(args, payload)
        reply = bus.request(args.topic, payload, timeout=args.timeout, key=args.key)
        call.define("_mesh_reply", reply)
        call.metadata["defines"] = ["_mesh_reply"]
        return reply
    if sub == "serve":
        from ...mesh.worker import agent_runner

        agent = call.session.project.services["agents"].get(args.agent)
        key = (id(bus), args.topic)
        old = _SERVING.pop(key, None)
        if old is not None:
            old.stop()
        _SERVING[key] = bus.subscribe(
            args.topic, agent_runner(agent, call.session.project), group=args.group, consumer=args.agent
        )
        print(f"agent {agent.name} serves {args.topic} (group {args.group}, {bus.backend.name} bus)")
        return None
    if sub == "stop":
        found = _SERVING.pop((id(bus), args.topic), None)
        if found is None:
            raise UsageError(f"%mesh stop: nothing is served on {args.topic!r} in this kernel")
        found.stop()
        print(f"stopped serving {args.topic}: {found.handled} handled, {found.failures} failed")
        return None
    if sub == "dead":
        dead: list[tuple[Any, ...]] = [
            (d.message_id[:12], d.deliveries, d.reason, json.dumps(d.payload)[:80])
            for d in bus.dead_letters(args.topic)
        ]
        call.display(table_bundle(("message", "deliveries", "reason", "payload"), dead), raw=True)
        return None
    stats = bus.status()
    rows: list[tuple[Any, ...]] = [
        (topic, info["length"], group, g["pending"], ", ".join(g["consumers"]))
        for topic, info in stats.items()
        for group, g in (info["groups"].items() or [("", {"pending": 0, "consumers": []})])
    ]
    call.display(table_bundle(("topic", "messages", "group", "pending", "consumers"), rows), raw=True)
    return None


_sub = mesh_magic.subcommands()
for _name, _help in (("send", "publish a message"), ("request", "publish and wait for the reply")):
    _p = _sub.add_parser(_name, help=_help)
    _p.add_argument("topic")
    _p.add_argument("payload", nargs="?", default=None, help="JSON")
    _p.add_argument("--key", default="", help="idempotency key")
    if _name == "request":
        _p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")
_serve = _sub.add_parser("serve", help="answer a topic's requests with a notebook agent")
_serve.add_argument("topic")
_serve.add_argument("--agent", required=True, help="the agent (defined with %%%%agent)")
_serve.add_argument("--group", default="workers")
_stop = _sub.add_parser("stop", help="stop serving a topic")
_stop.add_argument("topic")
_dead = _sub.add_parser("dead", help="dead letters of a topic")
_dead.add_argument("topic")
_sub.add_parser("status", help="topics, groups, pending messages")

__all__ = ["MeshError", "mesh_magic"]
