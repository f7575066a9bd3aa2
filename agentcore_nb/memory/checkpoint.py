"""Background checkpoints of the index, by count and by time, so a crash costs a top-up.

Without them the index is saved only on ``close()``: a killed process left the last clean save, and
the next open re-indexed everything since (all of it, for a store never closed cleanly). The
checkpointer saves when the records changed since the last save reach ``max(MIN_RECORDS, FRACTION
of the index)`` (the top-up after a crash then costs a few times a clean load: indexing a record is
about 100x the cost of loading one), or when any change is ``EVERY_SECONDS`` old. A save holds the
store's write lock while hnswlib serialises (about 0.5 s per 100,000 records here); consecutive
saves are spaced by at least ``GAP_FACTOR`` times the last save's duration, so checkpoints never
take more than about a fifth of a busy writer's time.

A failed save (a full disk, a database closed under a store left open) is retried after
``BACKOFF_S``, doubling per consecutive failure up to ``MAX_BACKOFF_S``: one WARNING for the first
failure, DEBUG for the next ones, INFO when a save works again (a failing save takes no time, so
without the backoff the thread retried at once, in a loop, logging each try). At interpreter exit
every checkpointer stops before the event log's own exit hook closes the database.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable

log = logging.getLogger("agentcore_nb.memory")
_live: weakref.WeakSet[Checkpointer] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook = False


def _stop_all_at_exit() -> None:
    for checkpointer in list(_live):
        try:
            checkpointer.close(timeout=30)
        except Exception:
            pass


def _register_exit_hook() -> None:
    """Registered with the first checkpointer, hence after the event log's hook (eventlog/duckdb.py,
    imported before any store opens): atexit runs hooks last-in first-out, so ours runs first."""
    global _exit_hook
    with _exit_hook_lock:
        if not _exit_hook:
            atexit.register(_stop_all_at_exit)
            _exit_hook = True


class Checkpointer:
    MIN_RECORDS = 500
    FRACTION = 0.01
    EVERY_SECONDS = 30.0
    GAP_FACTOR = 4.0
    BACKOFF_S = 1.0
    MAX_BACKOFF_S = 300.0

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
        self.saves = 0  # checkpoints written
        self.failures = 0  # consecutive failed tries (0 after a save works)
        self.last_error = ""
        _register_exit_hook()
        self._thread = threading.Thread(target=self._run, name="memory-checkpoint", daemon=True)
        self._thread.start()
        _live.add(self)

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

    def retry_delay(self) -> float:
        """Seconds between the last failed try and the next one (0 when the last try worked)."""
        if not self.failures:
            return 0.0
        return float(min(self.MAX_BACKOFF_S, self.BACKOFF_S * 2 ** min(self.failures - 1, 30)))

    def _wait(self) -> float | None:
        """Seconds until the next save is due (0: now), None when nothing is unsaved."""
        if self._unsaved == 0 or self._since is None:
            return None
        spaced = self._last_end + max(self.GAP_FACTOR * self._last_cost, self.retry_delay())
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
                error: Exception | None = None
                try:
                    self._save()
                except Exception as exc:  # a full disk must not kill the writer; a later try may work
                    error = exc
                finally:
                    self._cond.acquire()
                    self._saving = False
                    self._last_end = time.monotonic()
                    self._last_cost = self._last_end - start
                    self._settle(error)
                    self._cond.notify_all()

    def _settle(self, error: Exception | None) -> None:
        """Count a try and log it: the first failure of a streak, and the recovery, once each."""
        if error is None:
            if self.failures:
                log.info("memory index checkpoint written again after %d failed tries", self.failures)
            self.saves += 1
            self.failures = 0
            self.last_error = ""
            return
        self.failures += 1
        self.last_error = str(error).splitlines()[0] if str(error) else type(error).__name__
        if self.failures == 1:
            log.warning("memory index checkpoint failed: %s (retrying in %.0fs, backing off to %.0fs)",
                        self.last_error, self.retry_delay(), self.MAX_BACKOFF_S)  # fmt: skip
        else:
            log.debug("memory index checkpoint failed again (%d tries): %s", self.failures, self.last_error)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no save runs and none is due by count (a failing one waits for its backoff,
        not for the caller); True unless the timeout passed."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._saving or (
                not self.failures and self._unsaved and self._unsaved >= self._threshold()
            ):
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

    def close(self, timeout: float | None = None) -> None:
        """Stop the thread (a save under way finishes first)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        _live.discard(self)
