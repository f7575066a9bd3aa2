"""The ``agentcore.graph`` comm target: the session graph and its changes as JSON, for frontends.

A frontend (the JupyterLab extension) opens a comm to ``agentcore.graph``; the kernel answers with
a ``snapshot`` and then sends one ``changes`` message per cell (node added/updated/removed, state
changes, new edges, runs started/finished). The frontend may also ask for the session's runs, one
run's trace and an export (answered by :mod:`.comm_requests`); a request carrying ``id`` gets an
answer carrying ``reply_to``. ``seq`` numbers the change feed only (every comm sees every change):
answers go to the asking comm alone and carry no ``seq``, so one frontend's requests never look
like a lost message to another; a ``snapshot`` carries the ``seq`` of the last change it holds.
Message shapes: ``docs/kernel-protocol.md``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .._version import __version__

if TYPE_CHECKING:
    from .cellgraph import CellGraph
    from .session import NotebookSession

TARGET = "agentcore.graph"
PROTOCOL_VERSION = 1


def _header_subshell(data: Any, default: str | None) -> str | None:
    return default


class GraphChannel:
    def __init__(
        self, cells: CellGraph, comm_manager: Any, session_id: str, session: NotebookSession | None = None
    ) -> None:
        self.cells = cells
        self.comm_manager = comm_manager
        self.session_id = session_id
        #: The notebook session (its project answers runs / trace / export requests).
        self.session = session
        self._send_lock = threading.RLock()
        self.comms: list[Any] = []
        #: The ``seq`` of the last ``changes`` message (0: none yet); changed under ``_send_lock``.
        self._seq = 0

    def install(self) -> None:
        self.comm_manager.register_target(TARGET, self._opened)

    def uninstall(self) -> None:
        try:
            self.comm_manager.unregister_target(TARGET, self._opened)
        except KeyError:
            pass
        for comm in list(self.comms):
            try:
                comm.close(data={"v": PROTOCOL_VERSION, "type": "closed", "reason": "extension unloaded"})
            except Exception:
                pass
        self.comms.clear()
        self.cells.unsubscribe(self._publish)

    def _message(self, type_: str, **fields: Any) -> dict[str, Any]:
        """An answer (or the opening snapshot): only a snapshot carries a ``seq``, the feed's
        position it holds; call it under ``_send_lock`` so no change slips in between."""
        if type_ == "snapshot":
            return {"v": PROTOCOL_VERSION, "seq": self._seq, "type": type_, **fields}
        return {"v": PROTOCOL_VERSION, "type": type_, **fields}

    def snapshot_fields(self) -> dict[str, Any]:
        return {"session": self.session_id, "kernel_version": __version__, "graph": self.cells.snapshot()}

    def snapshot(self) -> dict[str, Any]:
        return self._message("snapshot", **self.snapshot_fields())

    def send(self, comm: Any, build: Any) -> None:
        """Build a message and send it under the channel's lock: JupyterLab (4.4+) sends comm
        messages on a subshell, so requests are answered on another thread while a cell publishes
        changes; a snapshot's ``seq`` then is the last change it holds."""
        with self._send_lock:
            comm.send(build())

    def _opened(self, comm: Any, msg: dict[str, Any]) -> None:
        self.comms.append(comm)
        if len(self.comms) == 1:
            self.cells.subscribe(self._publish)
        if hasattr(comm, "_reply_subshell_for"):
            # ipykernel 7.4 routes a comm's incoming messages to the subshell that last sent on it
            # (for widgets awaiting a reply); requests here go to the subshell the frontend chose,
            # so a trace asked on a subshell is answered while a cell runs.
            comm._reply_subshell_for = _header_subshell
        comm.on_msg(lambda m, c=comm: self._received(c, m))
        comm.on_close(lambda m, c=comm: self._closed(c))
        self.send(comm, self.snapshot)

    def _closed(self, comm: Any) -> None:
        if comm in self.comms:
            self.comms.remove(comm)
        if not self.comms:
            self.cells.unsubscribe(self._publish)

    def _received(self, comm: Any, msg: dict[str, Any]) -> None:
        from .comm_requests import answer

        data = msg.get("content", {}).get("data")

        def reply() -> dict[str, Any]:
            type_, fields = answer(self, data)
            return self._message(type_, **fields)

        if isinstance(data, dict) and data.get("type") == "refresh":
            self.send(comm, reply)  # built under the lock: its seq and graph agree with the feed
            return
        type_, fields = answer(self, data)  # store queries and exports do not hold up the feed
        self.send(comm, lambda: self._message(type_, **fields))

    def _publish(self, changes: list[dict[str, Any]]) -> None:
        with self._send_lock:
            self._seq += 1
            message = {"v": PROTOCOL_VERSION, "seq": self._seq, "type": "changes", "changes": changes}
            for comm in list(self.comms):
                try:
                    comm.send(message)
                except Exception:
                    self._closed(comm)
