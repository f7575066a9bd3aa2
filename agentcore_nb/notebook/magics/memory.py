"""``%memory add|search|list|forget|stats``: the project's long-term memory from a cell."""

from __future__ import annotations

import json
from typing import Any

from ...memory.records import MemoryStoreError
from ..nodes import memory_config
from .framework import MagicCall, magic
from .tables import table_bundle


def effort_line(effort: dict[str, Any]) -> str:
    """The search effort and where it comes from, in one line."""
    measured = effort.get("measured_recall")
    where = (
        f"calibrated on {effort['calibrated_records']} records, last measured recall {measured}"
        if measured is not None
        else "size model; not measured yet (calibrated from 1,000 records)"
    )
    return f"search effort: ef {effort['ef']} for recall@10 {effort['recall_target']} ({where})"


def _memory(call: MagicCall) -> Any:
    return call.session.project.services["memory"]


def _json_object(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MemoryStoreError(f"{what} is not JSON: {exc.msg}", hint='e.g. \'{"kind": "refund"}\'') from None
    if not isinstance(found, dict):
        raise MemoryStoreError(f"{what} must be a JSON object")
    return found


@magic(
    "memory",
    help="Long-term memory: add, search, list, forget, stats.",
    kind="memory",
    epilog='Examples:\n  %memory add "Refund issued for order 1234" -n support/refunds\n'
    '  %memory search "refund 1234" -n support/ -k 3\n  %memory list -n support/\n  %memory stats',
)
def memory_magic(call: MagicCall) -> Any:
    args = call.args
    memory = _memory(call)
    sub = args.subcommand
    if sub in ("add", "search", "forget"):
        call.metadata["config"] = memory_config(args)
    if sub == "add":
        meta = _json_object(args.metadata, "--metadata")
        record = memory.add(" ".join(args.text), namespace=args.namespace, metadata=meta)
        print(f"remembered {record.id} in {record.namespace}")
        return None
    if sub == "search":
        hits = memory.search(" ".join(args.query), k=args.k, namespace=args.namespace,
                             filters=_json_object(args.filter, "--filter"))  # fmt: skip
        rows: list[tuple[Any, ...]] = [
            (f"{h.score:.3f}", h.record.namespace, h.record.text, h.record.id[:12]) for h in hits
        ]
        call.display(table_bundle(("score", "namespace", "text", "id"), rows), raw=True)
        return None
    if sub == "list":
        records = memory.list(namespace=args.namespace, limit=args.limit)
        rows = [(r.namespace, r.text, r.id[:12]) for r in records]
        call.display(table_bundle(("namespace", "text", "id"), rows), raw=True)
        return None
    if sub == "forget":
        record = memory.forget(args.id)
        print(f"forgot {record.id}")
        return None
    stats = memory.stats()
    rows = [(ns, n) for ns, n in stats["namespaces"].items()]
    print(f"{stats['live']} live records, {stats['forgotten']} forgotten; embedder {stats['embedder']}")
    print(effort_line(stats["effort"]))
    call.display(table_bundle(("namespace", "records"), rows), raw=True)
    return None


_sub = memory_magic.subcommands()
_add = _sub.add_parser("add", help="remember a text")
_add.add_argument("text", nargs="+")
_add.add_argument("--namespace", "-n", default="default")
_add.add_argument("--metadata", "-m", default=None, help="JSON object")
_search = _sub.add_parser("search", help="top-k records by similarity")
_search.add_argument("query", nargs="+")
_search.add_argument("-k", type=int, default=5)
_search.add_argument("--namespace", "-n", default=None, help="exact, or a prefix ending with /")
_search.add_argument("--filter", "-f", default=None, help="metadata filter (JSON)")
_list = _sub.add_parser("list", help="newest records")
_list.add_argument("--namespace", "-n", default=None)
_list.add_argument("--limit", type=int, default=20)
_forget = _sub.add_parser("forget", help="tombstone a record")
_forget.add_argument("id")
_sub.add_parser("stats", help="counts per namespace")
