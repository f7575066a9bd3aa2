"""Cell -> typed node, without a kernel (``agentcore_nb.notebook.nodes``), and the same config
recorded by the live magics in the AgentCore kernel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentcore_nb.notebook.nodes import CellParseError, cell_node
from tests.notebook.conftest import Kernel


def test_each_magic_is_a_typed_node_with_its_config():
    n = cell_node('%tool call getOrderStatus \'{"order_id": "1"}\'')
    assert (n.role, n.kind, n.config, n.defines) == (
        "step", "tool", {"tool": "getOrderStatus", "arguments": {"order_id": "1"}}, ("_tool_result",)
    )  # fmt: skip
    n = cell_node('%memory add "hello" -n a/b -m \'{"k": 1}\'')
    assert (n.kind, n.config) == (
        "memory",
        {"op": "add", "text": "hello", "namespace": "a/b", "metadata": {"k": 1}},
    )
    n = cell_node('%memory search "hi" -n a/ -k 2')
    assert n.config == {"op": "search", "query": "hi", "k": 2, "namespace": "a/"}
    n = cell_node("%%code --lang js --session s1 --timeout 5 --allow-net api.example.com:443\n1 + 1")
    assert (n.kind, n.config) == (
        "code",
        {
            "code": "1 + 1\n",
            "language": "javascript",
            "session": "s1",
            "timeout": 5.0,
            "allow_net": ["api.example.com:443"],
        },
    )
    n = cell_node("%%reason --model offline --as verdict\nIs {x} more than {y}?")
    assert (n.kind, n.config, n.reads, n.defines) == (
        "reason", {"prompt": "Is {x} more than {y}?", "model": "offline"}, ("x", "y"), ("verdict",)
    )  # fmt: skip
    n = cell_node('%agent support "Where is 1234?"')
    assert (n.kind, n.config) == ("agent", {"agent": "support", "request": "Where is 1234?"})
    n = cell_node("%%agent support --tools a,b --memory m/\nBe kind.")
    assert (n.role, n.defines_kind, n.config["agent"]["tools"]) == ("definition", "agent", ["a", "b"])
    n = cell_node("%%tool --name lookup --timeout 3\ndef f(x: int) -> int:\n    return x")
    assert (n.defines_kind, n.config) == ("tool", {"name": "lookup", "function": "f", "timeout": 3.0})
    assert cell_node("%subagent support billing").config == {"parent": "support", "child": "billing"}
    assert cell_node("%model offline").config == {"model": "offline"}
    for view in (
        "%graph",
        "%memory stats",
        "%tool search parcel",
        "%matplotlib inline",
        "%load_ext agentcore_nb",
    ):
        assert cell_node(view).role == "view", view


def test_python_cells_and_node_headers():
    n = cell_node("%%node fetch --retries 2 --timeout 5\nx = y + 1")
    assert (n.role, n.name, n.policy, n.reads, n.defines) == (
        "python", "fetch", {"retries": 2, "timeout": 5.0}, ("y",), ("x",)
    )  # fmt: skip
    assert cell_node("%%time\nz = 1").defines == ("z",)
    with pytest.raises(CellParseError, match="malformed %%node"):
        cell_node("%%node 9bad\nx = 1")


def test_bad_magic_arguments_are_a_reason_not_a_crash():
    with pytest.raises(CellParseError, match="not JSON"):
        cell_node("%tool call t '{oops'")
    with pytest.raises(CellParseError, match="unknown language"):
        cell_node("%%code --lang cobol\nx")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    k = Kernel("agentcore", str(tmp_path_factory.mktemp("home")))
    try:
        yield k
    finally:
        k.close()


def test_live_magics_record_the_config_export_reads(live: Kernel):
    cells = {
        "t1": '%%tool\ndef getOrderStatus(order_id: str) -> dict:\n    """Status.\n\n    Args:\n        order_id: id\n    """\n    return {\'s\': \'ok\'}',
        "t2": '%tool call getOrderStatus \'{"order_id": "1"}\'',
        "t3": '%memory add "hello there" -n t/notes',
        "t4": "x = 2\ny = 3",
        "t5": "%%reason --as verdict\nIs {x} more than {y}?",
    }
    for cell_id, source in cells.items():
        live.ok(source, cell_id=cell_id)
    graph = live.graph()
    by_cell = {n["metadata"]["cell_id"]: n for n in graph["nodes"]}
    for cell_id in ("t2", "t3", "t5"):
        node = cell_node(cells[cell_id])
        assert by_cell[cell_id]["kind"] == node.kind
        assert by_cell[cell_id]["config"] == node.config, cell_id
    assert "verdict" in by_cell["t5"]["metadata"]["defines"]
    assert set(by_cell["t5"]["metadata"]["reads"]) >= {"x", "y"}
    assert "Is 2 more than 3?" in live.value("verdict")  # the offline reasoner echoes the filled prompt
    assert "getOrderStatus" in by_cell["t1"]["metadata"]["defines"]


def test_export_magic_needs_to_know_its_notebook(live: Kernel):
    r = live.run("%export somewhere")
    assert r.status == "error"
    assert "which notebook?" in (r.stderr + "".join(e["evalue"] for e in r.errors))


def test_reason_with_a_field_no_variable_holds_is_one_line(live: Kernel):
    r = live.run("%%reason\nTell me about {nothing_here_at_all}.")
    assert r.status == "error"
    text = r.stderr + "".join(e["evalue"] for e in r.errors)
    assert "{nothing_here_at_all} names no variable" in text and "Traceback" not in text
