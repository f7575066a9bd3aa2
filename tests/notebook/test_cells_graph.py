"""A scripted notebook session on the real kernel: the exact nodes, edges and states it produces.

Cells are sent with a ``cellId`` as JupyterLab does, so an edited cell updates its node.
"""

from __future__ import annotations

from typing import Any

from .conftest import Kernel


def shape(kernel: Kernel) -> dict[str, Any]:
    """{node: (kind, after, state)} and the edge list, read from the kernel."""
    snap = kernel.snapshot()
    return {
        "nodes": {n["name"]: (n["kind"], n["upstream"], n["state"]) for n in snap["nodes"]},
        "edges": [tuple(e) for e in snap["edges"]],
    }


def test_scripted_session_with_reruns_and_stale_marking(fresh: Kernel):
    k = fresh
    k.ok("import math\nradius = 2", "c1")
    k.ok("area = math.pi * radius ** 2", "c2")
    k.ok('%%node report\nsummary = f"{area:.1f}"\nsummary', "c3")
    k.ok("scale = 3", "c4")
    k.ok("big = area * scale", "c5")
    assert shape(k) == {
        "nodes": {
            "cell_1": ("python", [], "fresh"),
            "cell_2": ("python", ["cell_1"], "fresh"),
            "report": ("python", ["cell_2"], "fresh"),
            "cell_3": ("python", [], "fresh"),
            "cell_4": ("python", ["cell_2", "cell_3"], "fresh"),
        },
        "edges": [("cell_1", "cell_2"), ("cell_2", "report"), ("cell_2", "cell_4"), ("cell_3", "cell_4")],
    }
    names = {n["name"]: n for n in k.snapshot()["nodes"]}
    assert names["cell_1"]["defines"] == ["math", "radius"]
    assert names["cell_4"]["reads"] == ["area", "scale"]
    assert names["report"]["cell_id"] == "c3"

    # edit and re-run the first cell: everything downstream goes stale; the cell's output stays as
    # the stock kernel's (the note goes to the graph's listeners), unless warnings are on
    k.ok("%agentcore warnings on")
    rerun = k.ok("import math\nradius = 3", "c1")
    k.ok("%agentcore warnings off")
    assert (
        rerun.stderr
        == "agentcore: stale now: cell_2, report, cell_4 (re-run them, or %graph run --from cell_1)\n"
    )
    assert k.ok("%graph stale").stdout == "stale: cell_2, report, cell_4\n"
    assert shape(k)["nodes"]["cell_3"][2] == "fresh"

    # re-running a stale cell freshens it; its dependents were stale already
    assert k.ok("area = math.pi * radius ** 2", "c2").stderr == ""
    assert {n: s for n, (_, _, s) in shape(k)["nodes"].items()} == {
        "cell_1": "fresh",
        "cell_2": "fresh",
        "report": "stale",
        "cell_3": "fresh",
        "cell_4": "stale",
    }
    assert k.ok('%%node report\nsummary = f"{area:.1f}"\nsummary', "c3").data[-1]["text/plain"] == "'28.3'"
    assert k.ok("big = area * scale", "c5").stderr == ""
    assert k.ok("%graph stale").stdout == "no stale cells\n"


def test_warnings_for_double_definitions_unknown_names_and_cycles(fresh: Kernel):
    k = fresh
    comm_id = k.comm_open("agentcore.graph")
    k.comm_messages(comm_id, 1)  # the snapshot
    k.ok("scale = 3", "w1")
    k.ok("big = 10 * scale", "w2")
    silent = k.ok("scale = 4", "w3")
    assert silent.stderr == "" and silent.stdout == ""  # by default: what the stock kernel shows
    notes = [
        change
        for m in silent.messages  # sent while the cell ran, so they answer its request
        if m["header"]["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
        for change in m["content"]["data"].get("changes", [])
        if change["op"] == "notes"
    ]
    assert notes == [
        {
            "op": "notes",
            "name": "cell_3",
            "notes": [
                "'scale' is defined in 2 cells (cell_1, cell_3); readers use cell_3, run last",
                "stale now: cell_2 (re-run them, or %graph run --from cell_3)",
            ],
        }
    ]
    assert k.ok("%agentcore warnings on").stdout == "graph notes in cell output: on\n"
    k.ok("big = 10 * scale", "w2")
    twice = k.ok("scale = 4", "w3")
    assert twice.stderr == (
        "agentcore: 'scale' is defined in 2 cells (cell_1, cell_3); readers use cell_3, run last\n"
        "agentcore: stale now: cell_2 (re-run them, or %graph run --from cell_3)\n"
    )
    assert shape(k)["edges"] == [("cell_3", "cell_2")]

    k.ok("exec('hidden = 5')", "w4")  # defines a name the analysis cannot see: not "missing"
    assert k.ok("y = hidden + 1", "w5").stderr == ""
    unknown = k.ok("z = 1 if True else never_defined", "w5b")
    assert unknown.stderr == "agentcore: cell_6 reads 'never_defined', which no cell defines\n"

    k.ok("p = q + 1 if 'q' in globals() else 0", "w6")
    cyc = k.ok("q = p + 1", "w7")
    assert cyc.stderr == (
        "agentcore: cycle: cell_7 -> cell_8 -> cell_7\n"
        "agentcore: stale now: cell_7 (re-run them, or %graph run --from cell_8)\n"
    )
    assert all(r.status == "ok" for r in (twice, unknown, cyc))  # warnings, not errors
    k.ok("%agentcore warnings off")


def test_failed_cells_renames_deleted_cells_and_del(fresh: Kernel):
    k = fresh
    k.ok("a = 1", "d1")
    failed = k.run("b = a / 0", "d2")
    assert failed.status == "error" and failed.reply["content"]["ename"] == "ZeroDivisionError"
    assert shape(k)["nodes"]["cell_2"] == ("python", ["cell_1"], "failed")

    k.ok("%agentcore warnings on")
    renamed = k.ok("%%node source\na = 1", "d1")
    k.ok("%agentcore warnings off")
    assert "agentcore: node cell_1 is now source" in renamed.stderr
    assert shape(k)["nodes"] == {
        "source": ("python", [], "fresh"),
        "cell_2": ("python", ["source"], "stale"),
    }

    k.ok("c = 3", "d3")
    k.ok("del c", "d4")
    snap = {n["name"]: n for n in k.snapshot()["nodes"]}
    assert snap["cell_4"]["deletes"] == ["c"] and snap["cell_4"]["upstream"] == ["cell_3"]

    # JupyterLab tells the kernel which cells were deleted, with the next execute request
    result = k.collect(k.send("d = 4", "d5", metadata={"deletedCells": ["d3", "d4"]}))
    assert result.status == "ok"
    assert list(shape(k)["nodes"]) == ["source", "cell_2", "cell_5"]


def test_control_cells_are_not_nodes_and_magic_cells_take_their_kind(fresh: Kernel):
    k = fresh
    k.ok("%load_ext autoreload")
    k.ok("%graph show --text")
    k.ok("!true")
    assert shape(k)["nodes"] == {}
    k.ok(
        "from agentcore_nb.notebook.magics.framework import magic\n"
        "from agentcore_nb.notebook.extension import register_magic\n"
        "@magic('fake_tool', help='A tool-kind magic for this test.', kind='tool')\n"
        "def fake_tool(call):\n"
        "    call.shell.user_ns['tool_result'] = {'tool': call.args.name}\n"
        "    call.metadata.update(defines=['tool_result'], tool=call.args.name)\n"
        "fake_tool.parser.add_argument('name')\n"
        "register_magic(get_ipython(), fake_tool)",
        "m1",
    )
    k.ok("%fake_tool weather", "m2")
    k.ok("answer = tool_result['tool']", "m3")
    assert shape(k)["nodes"] == {
        "cell_1": ("python", [], "fresh"),
        "cell_2": ("tool", [], "fresh"),
        "cell_3": ("python", ["cell_2"], "fresh"),
    }
    node = next(n for n in k.graph()["nodes"] if n["name"] == "cell_2")
    assert node["metadata"]["magic"] == {"tool": "weather"}
    assert node["metadata"]["code"] == "get_ipython().run_line_magic('fake_tool', 'weather')\n"
    assert k.ok("%graph json").stdout.count('"kind": "tool"') == 1


def test_names_a_magic_defines_are_not_reported_as_undefined(tmp_path):
    from tests.helpers.kernel import running_kernel

    with running_kernel("agentcore", env={"AGENTCORE_HOME": str(tmp_path), "NO_COLOR": "1"}) as k:
        issued = k.execute('%identity issue --agent bot --scopes "tool:getOrderStatus" --as bot_token')
        assert issued.status == "ok", issued.errors
        reader = k.execute("len(bot_token) > 100")
        assert reader.status == "ok" and "no cell defines" not in reader.stderr
        unknown = k.execute("undefined_here = 1 if False else None\nprint(never_defined_anywhere)")
        assert unknown.status == "error"  # a real undefined name still fails (and is not hidden)
