"""Background checkpoints that fail: retried with a backoff, logged once per streak, stopped at exit."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

from agentcore_nb.memory.checkpoint import Checkpointer


class FailingSave:
    """A save that fails its first ``fail`` tries (``None``: always), counting every try; one that
    works tells the checkpointer, as ``Memory.save_index`` does."""

    def __init__(self, fail: int | None) -> None:
        self.fail = fail
        self.tries = 0
        self.cond = threading.Condition()
        self.checkpointer: Checkpointer | None = None

    def __call__(self) -> None:
        with self.cond:
            self.tries += 1
            self.cond.notify_all()
            if self.fail is None or self.tries <= self.fail:
                raise OSError("No space left on device")
        if self.checkpointer is not None:
            self.checkpointer.saved()

    def wait_tries(self, n: int, timeout: float = 60) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.tries >= n, timeout), f"{self.tries} tries, wanted {n}"


def test_a_failed_save_waits_for_its_backoff_before_the_next_try():
    save = FailingSave(fail=None)
    cp = Checkpointer(save, lambda: 0)
    cp.BACKOFF_S = cp.MAX_BACKOFF_S = 3600.0  # the next try is an hour away
    try:
        cp.changed(Checkpointer.MIN_RECORDS)  # due at once, by count
        save.wait_tries(1)
        cp.changed(10 * Checkpointer.MIN_RECORDS)  # more changes wake the thread: still no retry
        assert cp.wait_idle(timeout=60)  # a failing checkpointer does not hold flush() up
        assert save.tries == 1
        assert cp.failures == 1 and cp.saves == 0
        assert cp.last_error == "No space left on device"
        assert cp._wait() is not None and cp._wait() > 3000
    finally:
        cp.close()


def test_the_backoff_doubles_up_to_its_cap():
    cp = Checkpointer(lambda: None, lambda: 0)
    try:
        cp.BACKOFF_S, cp.MAX_BACKOFF_S = 1.0, 10.0
        delays = []
        for failures in range(6):
            cp.failures = failures
            delays.append(cp.retry_delay())
        assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 10.0]
    finally:
        cp.failures = 0
        cp.close()


def test_a_streak_of_failures_logs_one_warning_and_the_recovery(caplog):
    save = FailingSave(fail=5)
    cp = save.checkpointer = Checkpointer(save, lambda: 0)
    cp.BACKOFF_S, cp.MAX_BACKOFF_S = 0.001, 0.01
    with caplog.at_level(logging.DEBUG, logger="agentcore_nb.memory"):
        try:
            cp.changed(Checkpointer.MIN_RECORDS)
            assert cp.wait_saves(1, timeout=60), "the save never worked"
        finally:
            cp.close()
    assert save.tries == 6
    assert (cp.saves, cp.failures, cp.last_error, cp.unsaved) == (1, 0, "", 0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()
    assert sum("failed again" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG) == 4
    assert any("written again after 5 failed tries" in r.getMessage() for r in caplog.records)


def test_close_stops_a_thread_in_its_backoff_at_once():
    save = FailingSave(fail=None)
    cp = Checkpointer(save, lambda: 0)
    cp.BACKOFF_S = cp.MAX_BACKOFF_S = 3600.0
    cp.changed(Checkpointer.MIN_RECORDS)
    save.wait_tries(1)
    cp.close(timeout=60)
    assert not cp._thread.is_alive()


# A store left open while its database was closed under it (another user closed the project),
# then the interpreter exits: before the backoff this logged "Connection already closed!" about a
# thousand times a second, and the thread kept trying during the exit.
LEFT_OPEN = """
import atexit, json, sys, threading, time

def last():  # registered first, so atexit runs it last: after agentcore's own exit hooks
    alive = [t.name for t in threading.enumerate() if t.name == "memory-checkpoint" and t.is_alive()]
    print(json.dumps({"alive_at_exit": alive}), flush=True)

atexit.register(last)
import logging
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
from agentcore_nb.memory import Memory
from agentcore_nb.memory.checkpoint import Checkpointer
from agentcore_nb.project import Project

Checkpointer.EVERY_SECONDS = 0.1
Checkpointer.BACKOFF_S = 0.2  # a few retries while we wait below
project = Project(sys.argv[1])
memory = project.services["memory"]
Memory.shared(project)  # a second user: closing the project leaves the store open
memory.add_many(["a note", "another note"], namespace="left")
project.close()  # closes the database under the store
deadline = time.monotonic() + 60
while memory._checkpointer.failures < 3 and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps({"failures": memory._checkpointer.failures, "status": memory.index_status()}), flush=True)
"""


def test_a_store_whose_database_closed_logs_once_and_stops_at_exit(agentcore_home, subprocess_env):
    done = subprocess.run(
        [sys.executable, "-c", LEFT_OPEN, str(agentcore_home)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 2, done.stdout
    status, at_exit = lines
    assert status["failures"] >= 3  # it did retry, with its backoff
    assert status["status"]["failures"] == status["failures"]
    assert "closed" in status["status"]["last_error"]
    assert at_exit == {"alive_at_exit": []}  # stopped by its exit hook, before the others ran
    failed = [line for line in done.stderr.splitlines() if "checkpoint failed" in line]
    assert len(failed) == 1, done.stderr[-2000:]
    assert "already closed" in failed[0]
