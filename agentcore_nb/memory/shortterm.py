"""Short-term memory: the recent turns of one session, bounded by items and by (approximate) tokens.

It lives in process memory only; what should outlive a kernel restart goes to the long-term
store (``Memory.after_turn`` runs the strategies that do that).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .records import check_text


def approx_tokens(text: str) -> int:
    """About 4/3 tokens per word: close enough for a budget, no tokenizer needed."""
    return max(1, (len(text.split()) * 4 + 2) // 3)


@dataclass(slots=True)
class Turn:
    role: str
    text: str
    ts: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SessionCache:
    """Oldest turns fall out first when ``max_items`` or ``max_tokens`` would be exceeded."""

    def __init__(self, session_id: str, *, max_items: int = 50, max_tokens: int = 4000) -> None:
        self.session_id = session_id
        self.max_items = max_items
        self.max_tokens = max_tokens
        self._turns: deque[Turn] = deque()
        self._tokens = 0
        self._lock = threading.Lock()

    def add(self, role: str, text: str) -> Turn:
        turn = Turn(role, check_text(text), time.time(), approx_tokens(text))
        with self._lock:
            self._turns.append(turn)
            self._tokens += turn.tokens
            while len(self._turns) > 1 and (
                len(self._turns) > self.max_items or self._tokens > self.max_tokens
            ):
                self._tokens -= self._turns.popleft().tokens
        return turn

    def recent(self, n: int | None = None) -> list[Turn]:
        with self._lock:
            turns = list(self._turns)
        return turns[-n:] if n else turns

    @property
    def tokens(self) -> int:
        return self._tokens

    def clear(self) -> None:
        with self._lock:
            self._turns.clear()
            self._tokens = 0

    def __len__(self) -> int:
        return len(self._turns)
