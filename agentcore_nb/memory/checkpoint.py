"""Background checkpoints of the index, by count and by time, so a crash costs a top-up.

Without them the index is saved only on ``close()``: a killed process left the last clean save, and
the next open re-indexed everything since (all of it, for a store never closed cleanly). The
checkpointer saves when the records changed since the last save reach ``max(MIN_RECORDS, FRACTION
of the index)`` (the top-up after a crash then costs a few times a clean load: indexing a record is
about 100x the cost of loading one), or when any change is ``EVERY_SECONDS`` old. A save holds the
store's write lock while hnswlib serialises (about 0.5 s per 100,000 records here); consecutive
saves are spaced by at least ``GAP_FACTOR`` times the last save's duration, so checkpoints never
take more than about a fifth of a busy writer's time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("agentcore_nb.memory")


class Checkpointer:
    MIN_RECORDS = 500
    FRACTION = 0.01
    EVERY_SECONDS = 30.0
    GAP_FACTOR = 4.0

    def __init__(self, save: Callable[[], None], size: Callable[[], int]) -> None:
        self._save = save
        self._size = size
        self._cond = threading.Condition()
        self._unsaved = 0
        self._since: float | None = None
        self._last_end = 0.0
        self._last_cost = 0.0
        self._saving = False
        self._stop = False
        self.saves = 0
        self._thread = threading.Thread(target=self._run, name="memory-checkpoint", daemon=True)
        self._thread.start()

    @property
    def unsaved(self) -> int:
        return self._unsaved

    def changed(self, n: int) -> None:
        """``n`` records were added or forgotten since the last save."""
        if n <= 0:
            return
        with self._cond:
            self._unsaved += n
            if self._since is None:
                self._since = time.monotonic()
            self._cond.notify_all()

    def saved(self) -> None:
        """Called by every save, with the store's lock held (nothing changes during it)."""
        with self._cond:
            self._unsaved = 0
            self._since = None

    def _threshold(self) -> int:
        return max(self.MIN_RECORDS, int(self.FRACTION * self._size()))

    def _wait(self) -> float | None:
        """Seconds until the next save is due (0: now), None when nothing is unsaved."""
        if self._unsaved == 0 or self._since is None:
            return None
        spaced = self._last_end + self.GAP_FACTOR * self._last_cost
        due = spaced if self._unsaved >= self._threshold() else max(self._since + self.EVERY_SECONDS, spaced)
        return max(0.0, due - time.monotonic())

    def _run(self) -> None:
        with self._cond:
            while not self._stop:
                wait = self._wait()
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                self._saving = True
                self._cond.release()
                start = time.monotonic()
                try:
                    self._save()
                except Exception as exc:  # a full disk must not kill the writer; the next try may work
                    log.warning("memory index checkpoint failed: %s", exc)
                finally:
                    self._cond.acquire()
                    self._saving = False
                    self._last_end = time.monotonic()
                    self._last_cost = self._last_end - start
                    self.saves += 1
                    self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no save runs and none is due by count; True unless the timeout passed."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._saving or (self._unsaved and self._unsaved >= self._threshold()):
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def wait_saves(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` checkpoints were written; False when the timeout passed first."""
        end = time.monotonic() + timeout
        with self._cond:
            while self.saves < count:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()
