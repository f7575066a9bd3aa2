"""The ``memory`` node kind: search or write the project's memory as a graph step.

Config: ``op`` (``search`` default, ``add``, ``forget``), ``namespace``, ``k``, ``filters``;
the query / text / id come from config or from the node's inputs (``query``, ``text``, ``id``).
Spans are ``search_memory NODE`` / ``update_memory NODE``; writes are ``MemoryUpdateEvent``s.
"""

from __future__ import annotations

from typing import Any

from ..graph.spec import Node
from ..observability import conventions as conv
from ..runtime.context import NodeContext
from ..runtime.executors import Body, register_executor
from .records import MemoryStoreError

_OPS = ("search", "add", "forget")


def memory_of(ctx: NodeContext) -> Any:
    try:
        return ctx.services["memory"]
    except KeyError:
        raise MemoryStoreError("memory nodes need a project runtime (the 'memory' service)") from None


def validate(node: Node) -> list[str]:
    op = node.config.get("op", "search")
    if op not in _OPS:
        return [f"node '{node.name}': memory op must be one of {', '.join(_OPS)}, got {op!r}"]
    return []


class MemoryExecutor:
    kind = "memory"

    def prepare(self, node: Node) -> Body:
        cfg = dict(node.config)
        op = cfg.get("op", "search")
        attrs = {conv.MEMORY_OP: op, conv.MEMORY_NAMESPACE: cfg.get("namespace", "")}

        def value(inputs: dict[str, Any], key: str) -> Any:
            found = inputs.get(key, cfg.get(key))
            if found is None:
                raise MemoryStoreError(f"memory {op} node '{node.name}' needs '{key}' (config or input)")
            return found

        if op == "search":

            def search(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
                hits = memory_of(ctx).search(
                    value(inputs, "query"), k=int(cfg.get("k", 5)), namespace=cfg.get("namespace"),
                    filters=cfg.get("filters"), token=ctx.token, strict=False, session=ctx.session_id,
                )  # fmt: skip
                return [h.to_dict() for h in hits]

            return Body(search, operation=conv.SEARCH_MEMORY, attributes=attrs)
        if op == "add":

            def add(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
                text = value(inputs, "text")
                items = text if isinstance(text, list) else [text]
                done = memory_of(ctx).add_many(
                    items, namespace=cfg.get("namespace", "default"), session=ctx.session_id,
                    metadata=cfg.get("metadata"), token=ctx.token, run_id=ctx.run_id,
                )  # fmt: skip
                return [r.id for r in done]

            return Body(add, operation=conv.UPDATE_MEMORY, attributes=attrs)

        def forget(ctx: NodeContext, inputs: dict[str, Any]) -> Any:
            return memory_of(ctx).forget(value(inputs, "id"), token=ctx.token).id

        return Body(forget, operation=conv.UPDATE_MEMORY, attributes=attrs)


register_executor(MemoryExecutor(), validator=validate)
