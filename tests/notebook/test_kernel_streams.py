"""The AgentCore kernel's IOPub bookkeeping on a real ipykernel IOPub thread (no kernel process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import zmq
from ipykernel.iostream import IOPubThread

from agentcore_nb.notebook.kernel.streams import IOPubProgress


@pytest.fixture
def pub_thread() -> Iterator[IOPubThread]:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.bind("inproc://agentcore-iopub-test")
    thread = IOPubThread(sock)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()
        thread.close()
        ctx.term()


def test_a_barrier_waits_for_what_was_queued_and_costs_nothing_once_it_is_done(pub_thread: IOPubThread):
    progress = IOPubProgress(pub_thread)
    release = threading.Event()
    ran: list[str] = []
    progress.schedule(lambda: (release.wait(30), ran.append("first")))  # held on the IOPub thread
    progress.schedule(lambda: ran.append("second"))
    assert progress.done < progress.scheduled == 2
    releaser = threading.Thread(target=release.set)
    releaser.start()
    progress.barrier()  # returns only once both ran
    assert ran == ["first", "second"] and progress.done >= 2
    before = progress.scheduled
    progress.barrier()  # nothing outstanding: no event handed to the thread
    assert progress.scheduled == before
    releaser.join()


def test_a_stopped_iopub_thread_runs_events_in_place_without_deadlock(pub_thread: IOPubThread):
    progress = IOPubProgress(pub_thread)
    pub_thread.stop()
    ran: list[str] = []
    # an event that schedules another (as a stream flush that sends a message does)
    progress.schedule(lambda: (ran.append("outer"), pub_thread.schedule(lambda: ran.append("inner"))))
    assert ran == ["outer", "inner"]
    progress.barrier()
