"""Search effort (hnswlib's ``ef``) chosen from the index's size and a recall target.

Recall of an HNSW search at a fixed ``ef`` falls as the index grows (measured on the benchmark's
data at ef=64: 0.9935 at 20,000 records, 0.984 at 1,000,000), so a constant ``ef`` cannot keep a
promise. Two sources, the second preferred:

* a model: ``ef = 96 * (n / 100,000) ** 0.15 * (0.01 / (1 - target)) ** (1/3)``, fitted on the
  benchmark's clustered 384-d data (misses fall about as ef^-3; the ef a target needs grows slowly
  with n), with a margin: it gives 0.998 at 100,000 records for the default target 0.99;
* a calibration on the store's own vectors, run in the background after the store doubled in
  size: 300 queries near stored records (a record moved by 0.7x the typical nearest-neighbour
  distance in a random direction; on the benchmark data this tracks fresh queries within 0.002 of
  recall) are searched at a ladder of ``ef`` values and checked against exact search over every
  live record; the chosen ``ef`` is the smallest whose recall's 95% lower bound (Wilson) reaches
  the target. Between calibrations the ``ef`` grows with the model's size exponent.

A calibration starts only once writes have paused for ``QUIET_S``: a bulk ingest of many
``add_many`` calls is calibrated once, at its end, instead of at every doubling on the way (which
measured sizes about to be outgrown and took CPU from the ingest). Searches meanwhile use the model
or the previous calibration scaled to the current size.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .records import MemoryStoreError

RECALL_DEFAULT = 0.99
LADDER = (16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024)
SIZE_EXPONENT = 0.15
CALIBRATE_MIN = 1_000  # below this, exact checks are cheap but the model is already generous
QUERIES = 300
K = 10
QUIET_S = 1.0  # seconds without writes before a due calibration starts
log = logging.getLogger("agentcore_nb.memory")


def check_recall(recall: Any) -> float:
    if isinstance(recall, bool) or not isinstance(recall, int | float) or not 0.5 <= recall < 1:
        raise MemoryStoreError(
            f"recall must be a number in [0.5, 1), got {recall!r}", hint="e.g. recall=0.995, or ef=256"
        )
    return float(recall)


def check_ef(ef: Any) -> int:
    if isinstance(ef, bool) or not isinstance(ef, int) or not 1 <= ef <= 100_000:
        raise MemoryStoreError(f"ef must be an integer from 1 to 100000, got {ef!r}")
    return ef


def model_ef(n: int, target: float) -> int:
    raw = 96 * (max(n, 1_000) / 100_000) ** SIZE_EXPONENT * (0.01 / (1 - target)) ** (1 / 3)
    return max(16, math.ceil(raw / 8) * 8)


def wilson_lower(hits: int, trials: int, z: float = 1.645) -> float:
    if trials == 0:
        return 0.0
    p = hits / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials)


@dataclass
class Calibration:
    """Measured recall@10 per ef on the store's own data, at ``records`` live records."""

    records: int
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (ef, recall, lower bound)
    queries: int = 0
    at: float = 0.0
    seconds: float = 0.0

    def ef_for(self, target: float, n: int) -> int | None:
        for ef, _recall, lower in self.curve:
            if lower >= target:
                return math.ceil(ef * (max(n, self.records) / self.records) ** SIZE_EXPONENT)
        return None

    def measured(self, ef: int) -> float | None:
        """The measured recall at the largest calibrated ef not above ``ef``."""
        found = [r for e, r, _ in self.curve if e <= ef]
        return found[-1] if found else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(int(data["records"]), [tuple(x) for x in data["curve"]],  # type: ignore[misc]
                   int(data["queries"]), float(data["at"]), float(data["seconds"]))  # fmt: skip


def choose(n: int, target: float, k: int, calibration: Calibration | None) -> tuple[int, str]:
    """(ef, source) for a top-``k`` search at ``target`` recall in an index of ``n`` live records."""
    ef, source = model_ef(n, target), "model"
    if calibration is not None:
        found = calibration.ef_for(target, n)
        if found is not None:
            ef, source = found, "calibrated"
        else:
            ef = max(ef, calibration.curve[-1][0] if calibration.curve else ef)
    return max(ef * max(1, math.ceil(k / K)), k), source


class SearchEffort:
    """One store's recall target, its last calibration (both kept in ``memory_meta``) and the
    background calibration that runs after the store doubled in size."""

    def __init__(
        self, db: Any, meta: dict[str, str], index: Callable[[], Any], lock: threading.RLock
    ) -> None:
        self._db = db
        self._index = index
        self._lock = lock
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[Any, int] = (None, 0)
        self._quiet = threading.Condition()
        self._writers = 0
        self._last_write = -math.inf  # no write yet: a calibration due on open starts at once
        self.target = float(meta.get("recall_target", RECALL_DEFAULT))
        self.calibration = (
            Calibration.from_dict(json.loads(meta["calibration"])) if "calibration" in meta else None
        )

    def set_target(self, recall: Any) -> None:
        self.target = check_recall(recall)
        with self._db.lock:
            self._db.cursor().execute(
                "INSERT OR REPLACE INTO memory_meta VALUES ('recall_target', ?)", [str(self.target)]
            )

    def ef(self, k: int, recall: float | None, live: int) -> int:
        key = (k, self.target if recall is None else recall, live, id(self.calibration))
        if self._last[0] != key:  # the same answer for every search until the store changes
            self._last = (key, choose(live, key[1], k, self.calibration)[0])
        return self._last[1]

    def describe(self, k: int, recall: float | None) -> dict[str, Any]:
        target = self.target if recall is None else check_recall(recall)
        ef, source = choose(self._index().live_count(), target, k, self.calibration)
        cal = self.calibration
        return {
            "ef": ef,
            "recall_target": target,
            "source": source,
            "measured_recall": cal.measured(ef) if cal else None,
            "calibrated_records": cal.records if cal else None,
            "calibrated_at": cal.at if cal else None,
        }

    def calibrate(self) -> Calibration | None:
        from .calibration import calibrate

        found = calibrate(self._index(), self._lock, self.stop)
        if found is not None and not self.stop.is_set():
            self._keep(found)
        return found

    def forget_calibration(self) -> None:
        self.calibration = None
        with self._db.lock:
            self._db.cursor().execute("DELETE FROM memory_meta WHERE key = 'calibration'")

    def _keep(self, found: Calibration) -> None:
        with self._lock:
            self.calibration = found
            with self._db.lock:
                self._db.cursor().execute(
                    "INSERT OR REPLACE INTO memory_meta VALUES ('calibration', ?)",
                    [json.dumps(found.to_dict())],
                )
        ef, _ = choose(found.records, self.target, K, found)
        log.info("memory search calibrated on %d records in %.1fs: ef %d for recall %.3f (measured %s)",
                 found.records, found.seconds, ef, self.target, found.measured(ef))  # fmt: skip

    def begin_write(self) -> None:
        """A write started: a due calibration waits until writes pause."""
        with self._quiet:
            self._writers += 1

    def end_write(self) -> None:
        with self._quiet:
            self._writers -= 1
            self._last_write = time.monotonic()
            self._quiet.notify_all()

    def _wait_quiet(self) -> bool:
        """Block until no write ran for ``QUIET_S``; False when the store is closing."""
        with self._quiet:
            while not self.stop.is_set():
                idle = time.monotonic() - self._last_write
                if self._writers == 0 and idle >= QUIET_S:
                    return True
                self._quiet.wait(QUIET_S - idle if self._writers == 0 else None)
        return False

    def maybe_calibrate(self) -> None:
        """Calibrate in the background (once writes pause) when the store reached 1,000 records or
        doubled since."""
        n, cal = self._index().live_count(), self.calibration
        if n < CALIBRATE_MIN or (cal is not None and n < 2 * cal.records) or self.stop.is_set():
            return
        if self._thread is not None and self._thread.is_alive():
            return

        def run() -> None:
            try:
                if self._wait_quiet():
                    self.calibrate()
            except Exception as exc:  # a record forgotten mid-way, a closed file: try again later
                log.info("memory search calibration skipped: %s", exc)

        self._thread = threading.Thread(target=run, name="memory-calibrate", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        self.stop.set()
        with self._quiet:
            self._quiet.notify_all()
        self.wait()
