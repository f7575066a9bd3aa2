"""The ``mesh`` node kind: hand work to other agents from a graph.

Config: ``topic``, ``mode`` (``request``: publish and wait for the reply, the node's output; or
``publish``: fire and forget, the output is the message id), ``timeout`` (seconds, requests),
``payload`` (fixed fields; the node's inputs are merged over them), ``key`` (idempotency key).
"""

from __future__ import annotations

from typing import Any

from ..graph.spec import Node
from ..observability import conventions as conv
from ..runtime.context import NodeContext
from ..runtime.executors import Body, register_executor
from .message import MeshError

MODES = ("request", "publish")


def validate(node: Node) -> list[str]:
    cfg = node.config
    topic = cfg.get("topic")
    problems = []
    if not isinstance(topic, str) or not topic.strip() or any(c.isspace() for c in topic):
        problems.append(f"node '{node.name}': a mesh node needs config.topic (a name without spaces)")
    if cfg.get("mode", "request") not in MODES:
        problems.append(f"node '{node.name}': config.mode must be 'request' or 'publish'")
    timeout = cfg.get("timeout", 30)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        problems.append(f"node '{node.name}': config.timeout must be a positive number of seconds")
    if "payload" in cfg and not isinstance(cfg["payload"], dict):
        problems.append(f"node '{node.name}': config.payload must be an object")
    return problems


class MeshExecutor:
    kind = "mesh"

    def prepare(self, node: Node) -> Body:
        cfg = node.config
        topic: str = cfg["topic"]
        mode = cfg.get("mode", "request")
        timeout = float(cfg.get("timeout", 30))
        fixed = dict(cfg.get("payload") or {})
        key = str(cfg.get("key", ""))

        def call(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
            try:
                bus = ctx.services["mesh"]
            except KeyError:
                raise MeshError("mesh nodes need a project runtime (the 'mesh' service)") from None
            payload = {**fixed, **inputs} if (fixed or inputs) else None
            if mode == "publish":
                return bus.publish(topic, payload, key=key)
            return bus.request(topic, payload, timeout=timeout, key=key)

        return Body(
            call,
            operation=conv.INVOKE_AGENT,
            attributes={conv.MESSAGING_DESTINATION: topic, conv.MESH_MODE: mode},
        )


register_executor(MeshExecutor(), validator=validate)
