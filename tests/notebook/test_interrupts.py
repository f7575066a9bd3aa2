"""An interrupt (Ctrl-C, a real SIGINT) that lands in the cell's machinery rather than in its code.

On a busy machine the signal can arrive while the kernel records the cell: while IPython stores
its input, while the runner starts the cell's node, or while it finishes it. Such a cell used to
vanish from the graph (its name taken, no record) and every later cell went untracked, because
the interrupt escaped to IPython, which replaced the cell's result. These tests force each of
those interleavings: the kernel sends itself SIGINT at the named point, once.
"""

from __future__ import annotations

import pytest

from .conftest import Kernel, cell_id

# Arms a one-shot SIGINT inside ``owner.attr`` (a class or an object found by ``owner``).
_ARM = """
import os as _os, signal as _signal
def _arm(owner, attr):
    original = getattr(owner, attr)
    def once(*args, **kwargs):
        setattr(owner, attr, original)
        _os.kill(_os.getpid(), _signal.SIGINT)  # handled at the next bytecode: right here
        return original(*args, **kwargs)
    setattr(owner, attr, once)
"""

# point -> (arming code, whether the cell's code ran, the cell's node state afterwards)
POINTS = {
    # before the tracker's runner: IPython stores the input (under a lock its saving thread shares);
    # the cell's code never ran, so the graph is unchanged, as for a cell that did not parse
    "storing the input": ("_arm(get_ipython().history_manager, 'store_inputs')", False, None),
    # the runner, before the cell's code: NodeStarted, the node made current
    "starting the node": (
        "import agentcore_nb.runtime.live as L; _arm(L.LiveNode, 'start')",
        False,
        "failed",
    ),
    # the runner, after the cell's code succeeded: NodeSucceeded, the span ends
    "finishing the node": (
        "import agentcore_nb.runtime.live as L; _arm(L.LiveNode, 'succeeded')",
        True,
        "failed",
    ),
}


def _silently(kernel: Kernel, code: str) -> None:
    """Run ``code`` as a tool would (no cell, no node) and check it worked."""
    msg_id = kernel.client.execute(code, silent=True, store_history=False)
    reply = kernel.client.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupt_in_the_cell_machinery_fails_the_cell_and_tracking_goes_on(fresh: Kernel, point: str):
    arm, runs, state = POINTS[point]
    fresh.ok("base = 1", cell_id="before")
    _silently(fresh, _ARM + arm)
    victim = cell_id()
    result = fresh.run("ran = base + 1", cell_id=victim)
    assert result.status == "error", result.messages
    assert result.reply["content"]["ename"] == "KeyboardInterrupt"
    assert fresh.value("globals().get('ran')") == (2 if runs else None)
    states = {n["cell_id"]: n["state"] for n in fresh.snapshot()["nodes"]}
    assert states.get(victim) == state, states
    # the next cells are nodes again, and the notebook run has no node left running
    after = cell_id()
    fresh.ok("later = base * 3", cell_id=after)
    states = {n["cell_id"]: n["state"] for n in fresh.snapshot()["nodes"]}
    assert states.get(after) == "fresh" and states.get("before") == "fresh", states
    assert fresh.value("len(get_ipython()._agentcore_session.runner.live.inflight)") == 0
