"""Bad input on the real kernel: one clear error line, the kernel keeps running, the graph unchanged."""

from __future__ import annotations

import pytest

from .conftest import Kernel

BAD = [
    ("%graph frobnicate", "UsageError", "%graph: argument SUBCOMMAND: invalid choice: 'frobnicate'"),
    ("%graph run --bogus", "UsageError", "unrecognized arguments: --bogus"),
    ("%graph run --from", "UsageError", "argument --from: expected one argument"),
    ("%graph run --from a --only b", "UsageError", "not allowed with argument"),
    (
        "%graph run --from unknown",
        "AgentcoreError",
        "%graph run --from: no node 'unknown' in the notebook graph (nodes: cell_1, cell_2, fetch",
    ),
    (
        "%graph run --only cell_1 nope",
        "AgentcoreError",
        "%graph run --only: no node 'nope' in the notebook graph",
    ),
    ("%graph remove ghost", "UsageError", "%graph remove: no node 'ghost' in the notebook graph"),
    ("%%node\nx = 1", "UsageError", "%%node: the following arguments are required: name"),
    ("%%node 9lives\nx = 1", "UsageError", "invalid node name '9lives'"),
    ("%%node fine --retries lots\nx = 1", "UsageError", "retries must be a whole number, got 'lots'"),
    ("%%node fine --timeout -2\nx = 1", "UsageError", "timeout must be positive"),
    ("%%node loop --fallback loop\nx = 1", "UsageError", "a node cannot fall back to itself"),
    ("%%node fetch\nstolen = 1", "NameClashError", "%%node fetch: another cell already has this name"),
]


@pytest.fixture(scope="module")
def notebook(kernel: Kernel) -> Kernel:
    kernel.ok("a = 1", "b1")
    kernel.ok("b = a + 1", "b2")
    kernel.ok("%%node fetch\nc = b * 2", "b3")
    return kernel


@pytest.mark.parametrize("code,ename,message", BAD, ids=[b[0].splitlines()[0] for b in BAD])
def test_bad_input_gives_one_line_and_changes_nothing(notebook: Kernel, code: str, ename: str, message: str):
    before = notebook.graph()
    namespace = notebook.value("sorted(k for k in globals() if not k.startswith('_'))")
    result = notebook.run(code, cell_id="intruder")
    assert result.status == "error"
    assert len(result.errors) == 1, result.errors
    error = result.errors[0]
    assert error["ename"] == ename
    (line,) = error["traceback"]  # one line, no traceback
    assert line.startswith(f"{ename}: ") and message in line, line
    assert result.stderr == "" and result.stdout == ""
    assert notebook.graph() == before
    assert notebook.value("sorted(k for k in globals() if not k.startswith('_'))") == namespace
    assert notebook.ok("1 + 1").data[-1]["text/plain"] == "2"


def test_a_cycle_is_refused_by_graph_run_and_an_empty_graph_too(fresh: Kernel):
    empty = fresh.run("%graph run")
    assert empty.errors[0]["traceback"] == [
        "AgentcoreError: the notebook graph is empty: run some code cells first"
    ]
    fresh.ok("p = q + 1 if 'q' in globals() else 0", "y1")
    fresh.ok("q = p + 1", "y2")
    before = fresh.graph()
    result = fresh.run("%graph run")
    assert result.status == "error"
    (line,) = result.errors[0]["traceback"]
    assert line == "GraphError: invalid graph 'notebook': cycle: cell_1 -> cell_2 -> cell_1"
    assert fresh.graph() == before
