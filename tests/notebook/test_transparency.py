"""A notebook that runs clean on the stock kernel shows the same outputs on the AgentCore kernel:
the same cells sent to both kernels (started side by side), every output message compared."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.kernel import KernelSession, running_kernel

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|/tmp/ipykernel_\d+/[0-9a-f]+\.py")
TIMES = re.compile(r"\d+(\.\d+)?(e[+-]?\d+)?\s*(ns|µs|μs|us|ms|s)\b")  # IPython prints %.3g: "1e+03 ns"

CELLS = [
    "x = 1",
    "x = 2",  # a redefinition: no note in the cell's output
    "y = x + 1\ny",
    "from starmod import *",
    "star_value + 1",  # a name only a star import defines
    "%run helper.py",
    "from_run * 2",  # a name only %run defines
    "%%capture cap\nprint('hidden')\nz = 5",
    "cap.stdout, z",
    "exec('hidden = 4')",
    "hidden + z",  # a name only exec defines
    "globals()['dyn'] = 7",
    "dyn",
    "def f(:\n    pass",
    "x = (1,\ny = 2",
    "if True:\nprint(1)",
    "%%time\nx = = 1",
    "%run broken.py",
    *["model", "graph", "tool", "agent", "memory", "agentcore", "node"],  # never our magics
    "print('out')\nimport sys\nprint('err', file=sys.stderr)",
    "def g():\n    return 1 / 0\ng()",
    "for i in range(50):\n    v = i\nv",
    "v = 3\nv",
    "import math\nmath.pi",
    "%%time\nw = sum(range(10))",
    "w",
]


def normalize(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for m in messages:
        kind, content = m["header"]["msg_type"], m["content"]
        if kind == "stream":
            out.append((kind, content["name"], TIMES.sub("T", content["text"])))
        elif kind in ("execute_result", "display_data"):
            out.append((kind, content["data"].get("text/plain")))
        elif kind == "error":
            text = CELL_FILE.sub("CELL", ANSI.sub("", "\n".join(content["traceback"])))
            out.append((kind, content["ename"], content["evalue"], text))
    # stdout and stderr are flushed separately (chunks and their interleaving vary with timing on
    # both kernels): compare each stream's whole text, then the other messages in order
    streams = {
        name: "".join(item[2] for item in out if item[0] == "stream" and item[1] == name)
        for name in ("stdout", "stderr")
    }
    return [("streams", streams["stdout"], streams["stderr"]), *(i for i in out if i[0] != "stream")]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelSession, KernelSession]]:
    work = tmp_path_factory.mktemp("transparency")
    (work / "starmod.py").write_text("star_value = 41\n")
    (work / "helper.py").write_text("from_run = 21\nprint('helper ran')\n")
    (work / "broken.py").write_text("a = 1\nb = = 2\n")
    env = {"AGENTCORE_HOME": str(work / "state"), "NO_COLOR": "1"}
    with running_kernel("python3", env=env, cwd=str(work)) as stock:
        with running_kernel("agentcore", env=env, cwd=str(work)) as ours:
            yield stock, ours


def test_the_same_cells_give_the_same_messages_on_both_kernels(kernels: tuple[KernelSession, KernelSession]):
    stock, ours = kernels
    for code in CELLS:
        expected = stock.execute(code)
        got = ours.execute(code)
        assert got.status == expected.status, code
        assert got.reply["content"]["execution_count"] == expected.reply["content"]["execution_count"], code
        assert normalize(got.messages) == normalize(expected.messages), code
    # the bare names are errors on both, never a magic
    for name in ("model", "graph", "tool", "agent", "memory"):
        result = ours.execute(name)
        assert result.reply["content"]["ename"] == "NameError", name


def test_requests_without_history_are_not_graph_nodes(kernels: tuple[KernelSession, KernelSession]):
    _, ours = kernels
    count = "len(get_ipython()._agentcore_session.cells.cells)"
    before = ours.execute(f"print({count})", store_history=False).stdout
    tool = ours.execute("probe_value = 1", store_history=False)  # e.g. a variable inspector
    assert tool.status == "ok"
    assert ours.execute(f"print({count})", store_history=False).stdout == before
    graph = ours.execute(
        "print(sorted(c.name for c in get_ipython()._agentcore_session.cells.cells.values()))"
    )
    assert "probe" not in graph.stdout


def test_syntax_errors_keep_ipythons_form_without_project_frames(
    kernels: tuple[KernelSession, KernelSession],
):
    _, ours = kernels
    (error,) = ours.execute("def f(:\n    pass").errors
    text = ANSI.sub("", "\n".join(error["traceback"]))
    assert re.search(r"Cell In\[\d+\], line 1", text) and "^" in text
    (timed,) = ours.execute("%%time\nx = = 1").errors
    assert "agentcore_nb" not in "\n".join(timed["traceback"])
    (ran,) = ours.execute("%run broken.py").errors
    assert "broken.py" in ANSI.sub("", "\n".join(ran["traceback"]))


def test_example_notebooks_python_cells_match_the_stock_kernel(tmp_path: Path):
    """The example notebooks' plain-Python cells (the stock kernel cannot run our magics) run on
    both kernels with the same messages."""
    import nbformat

    notebooks = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
    cells = []
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            src = cell.source
            if cell.cell_type == "code" and "%" not in src and "!" not in src and "project" not in src:
                if "_agent_result" not in src and "get_ipython" not in src and "result" not in src:
                    cells.append(src)
    assert cells, "the example notebooks have plain Python cells"
    env = {"AGENTCORE_HOME": str(tmp_path / "state"), "NO_COLOR": "1"}
    cwd = str(notebooks[0].parent)
    with (
        running_kernel("python3", env=env, cwd=cwd) as stock,
        running_kernel("agentcore", env=env, cwd=cwd) as ours,
    ):
        for code in cells:
            expected, got = stock.execute(code), ours.execute(code)
            assert normalize(got.messages) == normalize(expected.messages), code
