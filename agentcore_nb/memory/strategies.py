"""Long-term strategies after a turn (as in AgentCore Memory), run in the background.

``semantic`` stores the user's turns as facts, as given. ``summary`` rolls the session's turns up
into one record and ``preference`` extracts the user's stated preferences; both need a configured
model (``agentcore_nb.models.complete_text``) and are no-ops with a note without one.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .records import MemoryStoreError

if TYPE_CHECKING:
    from .store import Memory

STRATEGIES = ("semantic", "summary", "preference")
_PROMPTS = {
    "summary": "Summarise this conversation in at most three sentences, keeping names, ids and amounts:\n\n",
    "preference": "List the user's stated preferences in this conversation, one per line; "
    "answer NONE if there are none:\n\n",
}


def _complete(services: Any, prompt: str) -> str | None:
    try:
        from ..models import complete_text  # type: ignore[attr-defined]
    except ImportError:
        return None
    result: str | None = complete_text(services, prompt)
    return result


class StrategyRunner:
    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentcore-memory-strategy")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        #: What each strategy did last (``{"summary": "skipped: no model configured"}``).
        self.notes: dict[str, str] = {}

    def submit(self, session_id: str, *, namespace: str, strategies: tuple[str, ...],
               token: str | None) -> Future[Any]:  # fmt: skip
        unknown = [s for s in strategies if s not in STRATEGIES]
        if unknown:
            raise MemoryStoreError(
                f"unknown memory strategy {unknown[0]!r}", hint=f"use {', '.join(STRATEGIES)}"
            )
        turns = self.memory.session(session_id).recent()
        future = self._pool.submit(self._run, session_id, namespace, strategies, token, turns)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, session_id: str, namespace: str, strategies: tuple[str, ...], token: str | None,
             turns: list[Any]) -> dict[str, int]:  # fmt: skip
        written: dict[str, int] = {}
        user_turns = [t for t in turns if t.role == "user"]
        for strategy in strategies:
            if strategy == "semantic":
                items = [{"text": t.text, "metadata": {"strategy": "semantic"}} for t in user_turns]
                done = self.memory.add_many(items, namespace=namespace, session=session_id, token=token)
                written[strategy] = len(done)
                self.notes[strategy] = f"stored {len(done)} facts"
                continue
            transcript = "\n".join(f"{t.role}: {t.text}" for t in turns)
            answer = (
                _complete(self.memory.project.services, _PROMPTS[strategy] + transcript) if turns else None
            )
            if answer is None:
                self.notes[strategy] = "skipped: no model configured" if turns else "skipped: no turns"
                written[strategy] = 0
                continue
            lines = [answer.strip()] if strategy == "summary" else [
                ln.strip("-* ").strip() for ln in answer.splitlines() if ln.strip() and ln.strip() != "NONE"
            ]  # fmt: skip
            items = [{"text": ln, "metadata": {"strategy": strategy}} for ln in lines if ln]
            self.memory.add_many(items, namespace=namespace, session=session_id, token=token)
            written[strategy] = len(items)
            self.notes[strategy] = f"stored {len(items)}"
        return written

    def wait(self) -> None:
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for f in pending:
                f.exception()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
