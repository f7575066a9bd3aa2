"""``%load_ext agentcore_nb`` in a stock kernel (and ``%unload_ext`` in both kernels): everything it
installs is there after loading and gone after unloading."""

from __future__ import annotations

import re

import pytest

from .conftest import Kernel

PROBE = (
    "(lambda ip: {"
    "'pre': len(ip.events.callbacks['pre_run_cell']),"
    "'post': len(ip.events.callbacks['post_run_cell']),"
    "'cleanup': len(ip.input_transformers_cleanup),"
    "'run_ast_nodes_wrapped': 'run_ast_nodes' in ip.__dict__,"
    "'automagic_guard': any('check' in c.__dict__ for c in ip.prefilter_manager.checkers),"
    "'custom_exc': [c.__name__ for c in ip.custom_exceptions],"
    "'magics': sorted(n for n in ('graph', 'agentcore') if n in ip.magics_manager.magics['line'])"
    " + sorted(n for n in ('node',) if n in ip.magics_manager.magics['cell']),"
    "'comm_target': 'agentcore.graph' in ip.kernel.comm_manager.targets,"
    "'session': hasattr(ip, '_agentcore_session'),"
    "})(get_ipython())"
)

LOADED = {
    "run_ast_nodes_wrapped": True,
    "automagic_guard": True,
    "custom_exc": ["AgentcoreError", "CellTimeout"],
    "magics": ["agentcore", "graph", "node"],
    "comm_target": True,
    "session": True,
}


@pytest.fixture(scope="module")
def stock(module_home: str):
    k = Kernel("python3", module_home)
    yield k
    k.close()


def test_load_track_unload_reload_in_a_stock_kernel(stock: Kernel):
    k = stock
    before = k.value(PROBE)
    assert before["session"] is False and before["magics"] == []
    k.ok("%load_ext agentcore_nb")
    loaded = k.value(PROBE)
    assert {key: loaded[key] for key in LOADED} == LOADED
    assert loaded["pre"] == before["pre"] + 1 and loaded["post"] == before["post"] + 1
    assert loaded["cleanup"] == before["cleanup"] + 1

    k.ok("x = 1", "e1")
    k.ok("%%node twice\ny = x * 2", "e2")
    assert k.ok("%graph show --text").stdout.splitlines()[0] == "graph 'notebook': 2 nodes, 1 edge (2 fresh)"
    assert k.ok("%graph run").stdout.startswith("run ")
    syntax = re.sub(r"\x1b\[[0-9;]*m", "", "".join(k.run("x = = 1").errors[0]["traceback"]))
    assert "^" in syntax and "Cell In[" in syntax  # IPython's own display

    again = k.ok("%load_ext agentcore_nb")  # loading twice installs nothing twice
    assert "already loaded" in again.stdout
    assert k.value(PROBE) == loaded

    k.ok("%unload_ext agentcore_nb")
    assert k.value(PROBE) == before
    gone = k.run("%graph")
    assert gone.status == "error" and "%graph" in gone.stderr + str(gone.errors)
    assert k.value("(x, y)") == [1, 2]  # the user's namespace is left alone
    syntax = k.run("x = = 1").errors[0]["traceback"]
    assert "^" in "".join(syntax)  # IPython's own caret display is back

    k.ok("%load_ext agentcore_nb")
    assert k.graph()["nodes"] == []  # a new session
    k.ok("z = 3", "e3")
    assert [n["name"] for n in k.graph()["nodes"]] == ["cell_1"]
    k.ok("%unload_ext agentcore_nb")
    assert k.value(PROBE) == before


def test_the_agentcore_kernel_starts_lazily_and_loads_what_the_first_cell_needs(module_home: str):
    k = Kernel("agentcore", module_home)
    try:
        heavy = (
            "[m for m in ('duckdb', 'numpy', 'agentcore_nb.runtime', 'agentcore_nb.graph')"
            " if m in __import__('sys').modules]"
        )
        probe = (
            "(lambda ip: ('graph' in ip.magics_manager.magics['line'],"
            " 'agentcore.graph' in ip.kernel.comm_manager.targets))(get_ipython())"
        )
        assert k.value(heavy) == []  # nothing heavy at start-up
        assert k.value(probe) == [True, True]  # the names are there before their modules load
        assert k.run("graph").reply["content"]["ename"] == "NameError"  # never a magic without %
        assert k.ok("%graph show --text").stdout.startswith("graph 'notebook'")
        assert {key: k.value(PROBE)[key] for key in LOADED} == LOADED
    finally:
        k.close()


def test_unload_and_reload_in_the_agentcore_kernel(kernel: Kernel):
    kernel.ok("1 + 1")  # the first cell loads the extension's parts
    loaded = kernel.value(PROBE)
    assert {key: loaded[key] for key in LOADED} == LOADED
    kernel.ok("%unload_ext agentcore_nb")
    unloaded = kernel.value(PROBE)
    assert unloaded["session"] is False and unloaded["magics"] == [] and unloaded["comm_target"] is False
    assert unloaded["pre"] == loaded["pre"] - 1 and unloaded["post"] == loaded["post"] - 1
    kernel.ok("%reload_ext agentcore_nb")
    assert kernel.value(PROBE) == loaded
    kernel.ok("w = 1")
    assert [n["name"] for n in kernel.graph()["nodes"]] == ["cell_1"]


def test_the_start_up_manifest_names_every_magic_with_its_kind_and_modes():
    """The kernel registers magics from their source before importing them: the two must agree."""
    from agentcore_nb.notebook.extension import _import_magic_modules, magic_manifest
    from agentcore_nb.notebook.magics.framework import MAGICS

    assert _import_magic_modules() == []
    real = {name: (m.kind, m.modes) for name, m in MAGICS.items() if m.help != "(loading)"}
    manifest = magic_manifest()
    assert {k: manifest[k] for k in real if k in manifest} == real and set(manifest) >= set(real)
