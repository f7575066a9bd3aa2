"""The bundle: its files, determinism, tamper refusal, and `agentcore run local` (every node kind
running on the engine's executors, parameters, bad input)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentcore_nb.eventlog.duckdb import DuckDBEventLog
from agentcore_nb.export import ExportError, export_notebook, load_bundle
from agentcore_nb.export.bundle import MANIFEST
from agentcore_nb.home import database_path

from .conftest import agentcore, run_json, write_notebook

TOOL = '''%%tool
def getOrderStatus(order_id: str) -> dict:
    """Where an order is.

    Args:
        order_id: The order number.
    """
    return {"order_id": order_id, "status": {"1234": "delivered"}.get(order_id, "unknown")}'''

KINDS = [
    "%model offline",
    TOOL,
    ('order_id = "1234"\nquantity: int', ["parameters"]),
    '%tool call getOrderStatus \'{"order_id": "1234"}\'',
    "status = getOrderStatus(order_id)['status']\ntotal = quantity * 2",
    '%memory add "Refund issued for order 1234" -n shop/refunds -m \'{"order": "1234"}\'',
    '%memory search "refund 1234" -n shop/ -k 2',
    "%%reason --as reply\nOrder {order_id} is {status}.",
    "%%agent helper --tools getOrderStatus\nYou check orders.",
    '%agent helper "Where is my order 1234?"',
    ('result = {"status": status, "total": total, "reply": reply}\nresult', ["output"]),
]


@pytest.fixture
def kinds_nb(nb_dir: Path) -> Path:
    return write_notebook(nb_dir / "kinds.ipynb", KINDS)


def test_bundle_files_and_graph(kinds_nb: Path, tmp_path: Path):
    out = export_notebook(kinds_nb, tmp_path / "b")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "graph.json",
            "cells.py",
            "definitions.json",
            "memory.json",
            "requirements.txt",
            "README.md",
            MANIFEST,
        ]
    )
    graph = json.loads((out / "graph.json").read_text())
    assert graph["agentcore_graph"] == 1
    kinds = {n["metadata"]["cell_id"]: n["kind"] for n in graph["nodes"]}
    assert kinds == {
        "c004": "tool", "c005": "python", "c006": "memory", "c007": "memory",
        "c008": "reason", "c010": "agent", "c011": "python",
    }  # fmt: skip
    by_id = {n["metadata"]["cell_id"]: n for n in graph["nodes"]}
    assert by_id["c004"]["config"] == {"tool": "getOrderStatus", "arguments": {"order_id": "1234"}}
    assert by_id["c005"]["inputs"] == {"order_id": "$input.order_id", "quantity": "$input.quantity"}
    assert by_id["c006"]["config"] == {
        "op": "add", "text": "Refund issued for order 1234", "namespace": "shop/refunds", "metadata": {"order": "1234"},
    }  # fmt: skip
    assert by_id["c008"]["config"] == {"prompt": "Order {order_id} is {status}.", "model": "offline"}
    assert by_id["c008"]["inputs"] == {"order_id": "$input.order_id", "status": "cell_c005.status"}
    agent = by_id["c010"]["config"]
    assert agent["request"] == "Where is my order 1234?"
    assert agent["agent"]["name"] == "helper" and agent["agent"]["tools"] == ["getOrderStatus"]
    assert by_id["c011"]["inputs"]["reply"] == "cell_c008.text"
    assert graph["output"] == "cell_c011"
    assert graph["metadata"]["parameters"] == {
        "order_id": {"default": "1234"},
        "quantity": {"required": True},
    }
    defs = json.loads((out / "definitions.json").read_text())
    assert defs["tools"] == [
        {"name": "getOrderStatus", "function": "cells:getOrderStatus", "cell_id": "c002"}
    ]
    assert defs["model"] == {"model": "offline"}
    assert json.loads((out / "memory.json").read_text()) == {"namespaces": ["shop/", "shop/refunds"]}
    assert "agentcore-nb==" in (out / "requirements.txt").read_text()
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == set(names) - {MANIFEST}
    assert len(manifest["notebook"]["sha256"]) == 64


def test_cells_module_is_importable_functions(kinds_nb: Path, tmp_path: Path):
    out = export_notebook(kinds_nb, tmp_path / "b")
    ns: dict = {}
    exec(compile((out / "cells.py").read_text(), "cells.py", "exec"), ns)
    assert ns["cell_c005"](order_id="1234", quantity=3) == {"status": "delivered", "total": 6}
    assert ns["getOrderStatus"]("1234")["status"] == "delivered"


def test_requirements_pin_third_party_imports(nb_dir: Path, tmp_path: Path):
    import importlib.metadata

    path = write_notebook(nb_dir / "n.ipynb", ["import json\nimport jwt\nimport pandas as pd\nx = 1"])
    reqs = (export_notebook(path, tmp_path / "b") / "requirements.txt").read_text()
    assert f"PyJWT=={importlib.metadata.version('PyJWT')}" in reqs
    assert f"pandas=={importlib.metadata.version('pandas')}" in reqs
    assert "json" not in reqs.replace("agentcore", "")


def test_same_notebook_twice_gives_the_same_files(kinds_nb: Path, tmp_path: Path):
    a = export_notebook(kinds_nb, tmp_path / "a")
    b = export_notebook(kinds_nb, tmp_path / "b")
    for f in a.iterdir():
        if f.name == MANIFEST:
            ma, mb = json.loads(f.read_text()), json.loads((b / f.name).read_text())
            ma.pop("created"), mb.pop("created")
            assert ma == mb
        else:
            assert f.read_bytes() == (b / f.name).read_bytes(), f.name
    again = export_notebook(kinds_nb, a)  # over an existing bundle: replaced whole
    assert again == a and load_bundle(a).manifest["files"] == json.loads((b / MANIFEST).read_text())["files"]


def test_no_secret_in_the_bundle(nb_dir: Path, tmp_path: Path):
    path = write_notebook(
        nb_dir / "n.ipynb",
        ["%model openai:gpt-4o-mini --base-url https://user:sk-secret-123@llm.example.com/v1", "x = 1"],
    )
    out = export_notebook(path, tmp_path / "b")
    for f in out.iterdir():
        assert "sk-secret-123" not in f.read_text(), f.name
    assert json.loads((out / "definitions.json").read_text())["model"]["model"] == "openai:gpt-4o-mini"


@pytest.mark.parametrize("edit", ["change", "delete", "add"])
def test_a_hand_edited_bundle_is_refused_naming_the_file(
    kinds_nb: Path, tmp_path: Path, edit: str, subprocess_env: dict[str, str]
):
    out = export_notebook(kinds_nb, tmp_path / "b")
    if edit == "change":
        cells = out / "cells.py"
        cells.write_text(cells.read_text().replace("return {", "__import__('os').system('id'); return {", 1))
        expected = "cells.py does not match its manifest"
    elif edit == "delete":
        (out / "definitions.json").unlink()
        expected = "definitions.json is missing"
    else:
        (out / "sitecustomize.py").write_text("print('pwned')")
        expected = "sitecustomize.py is not in its manifest"
    with pytest.raises(ExportError, match=expected):
        load_bundle(out)
    done = agentcore("run", "local", str(out), env=subprocess_env)
    assert done.returncode == 1 and expected in done.stderr and "Traceback" not in done.stderr
    with DuckDBEventLog(database_path()) as log:
        assert log.runs() == [], "a refused bundle started a run"


def test_run_local_runs_every_kind_on_the_engine(
    kinds_nb: Path, tmp_path: Path, subprocess_env: dict[str, str]
):
    out = export_notebook(kinds_nb, tmp_path / "b")
    done = agentcore(
        "run", "local", str(out), "--input", '{"quantity": 5}', "--session-id", "s-42", env=subprocess_env
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["status"] == "delivered" and printed["total"] == 10
    assert "Order 1234 is delivered" in printed["reply"]
    assert "run " in done.stderr and "succeeded" in done.stderr  # run id and the trace summary
    with DuckDBEventLog(database_path()) as log:
        (run,) = log.runs()
        events = log.events(run.run_id)
    assert {e.session_id for e in events} == {"s-42"}
    done_kinds = {e.node_id: e.kind for e in events if e.type == "NodeSucceeded" and "/" not in e.node_id}  # type: ignore[attr-defined]
    assert set(done_kinds.values()) == {"python", "tool", "memory", "reason", "agent"}
    types = {e.type for e in events}
    assert {"ActionEvent", "MemoryUpdateEvent", "AgentInvocationEvent"} <= types


def test_an_input_override_changes_the_result(nb_dir: Path, tmp_path: Path, subprocess_env: dict[str, str]):
    path = write_notebook(
        nb_dir / "n.ipynb",
        [("radius = 2.0", ["parameters"]), "import math\narea = round(math.pi * radius ** 2, 2)\narea"],
    )
    out = export_notebook(path, tmp_path / "b")
    assert run_json(str(out), env=subprocess_env)["result"] == 12.57
    assert run_json(str(out), "--input", '{"radius": 3.0}', env=subprocess_env)["result"] == 28.27
    # a notebook is exported to a temporary bundle first
    assert run_json(str(path), "--input", '{"radius": 1.0}', env=subprocess_env)["result"] == 3.14


@pytest.mark.parametrize(
    "given, expected",
    [
        ("{not json", "--input is not valid JSON"),
        ('"just a string"', "--input must be a JSON object"),
        (
            '{"radius": 1, "colour": "red"}',
            "'colour' is not a parameter of this graph (parameters: radius, label)",
        ),
        ('{"radius": 1}', "misses the required parameter 'label'"),
    ],
)
def test_bad_input(nb_dir: Path, tmp_path: Path, subprocess_env: dict[str, str], given: str, expected: str):
    path = write_notebook(
        nb_dir / "n.ipynb", [("radius = 2.0\nlabel: str", ["parameters"]), "x = f'{label}: {radius}'"]
    )
    out = export_notebook(path, tmp_path / "b")
    done = agentcore("run", "local", str(out), "--input", given, env=subprocess_env)
    assert done.returncode == 1
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_run_local_of_a_missing_or_unsound_source(nb_dir: Path, subprocess_env: dict[str, str]):
    done = agentcore("run", "local", str(nb_dir / "nothing"), env=subprocess_env)
    assert done.returncode == 1 and "no bundle directory" in done.stderr
    bad = write_notebook(nb_dir / "bad.ipynb", ["y = q"])
    done = agentcore("run", "local", str(bad), env=subprocess_env)
    assert done.returncode == 1 and "reads 'q'" in done.stderr and "Traceback" not in done.stderr


def test_a_failing_cell_fails_the_run(nb_dir: Path, tmp_path: Path, subprocess_env: dict[str, str]):
    path = write_notebook(nb_dir / "n.ipynb", ["x = 1", "y = x / 0"])
    out = export_notebook(path, tmp_path / "b")
    done = agentcore("run", "local", str(out), env=subprocess_env)
    assert done.returncode == 1
    assert "ZeroDivisionError" in done.stderr


def test_run_graph_json_still_works(tmp_path: Path, subprocess_env: dict[str, str]):
    graph = tmp_path / "g.json"
    graph.write_text(
        json.dumps({"agentcore_graph": 1, "name": "g", "nodes": [{"name": "a", "config": {"code": "1 + 1"}}]})
    )
    done = agentcore("run", str(graph), env=subprocess_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"a": 2}


def test_bundle_copied_elsewhere_still_runs(kinds_nb: Path, tmp_path: Path, subprocess_env: dict[str, str]):
    out = export_notebook(kinds_nb, tmp_path / "b")
    moved = Path(shutil.copytree(out, tmp_path / "elsewhere" / "bundle"))
    assert run_json(str(moved), "--input", '{"quantity": 1}', env=subprocess_env)["result"]["total"] == 2


def test_running_a_bundle_needs_no_jupyter(kinds_nb: Path, tmp_path: Path, subprocess_env: dict[str, str]):
    import subprocess
    import sys

    out = export_notebook(kinds_nb, tmp_path / "b")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from agentcore_nb.export import run_local\n"
        f"r = run_local(Path({str(out)!r}), {{'quantity': 2}})\n"
        "assert r.ok, r.errors\n"
        "print(sorted(m for m in ('IPython', 'ipykernel', 'jupyter_client', 'nbformat', 'nbclient') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_node_policies_ship_and_a_fallback_stands_in(nb_dir: Path, subprocess_env: dict[str, str]):
    path = write_notebook(
        nb_dir / "fb.ipynb",
        [
            "x = 1",
            "%%node fetch --retries 1 --fallback cached\nvalue = x / 0",
            "%%node cached\nvalue = -1",
            "out = value * 2\nout",
        ],
    )
    out = export_notebook(path, nb_dir / "b")
    nodes = {n["name"]: n for n in json.loads((out / "graph.json").read_text())["nodes"]}
    assert nodes["fetch"]["policy"] == {"retries": 1, "fallback": "cached"}
    assert "after" not in nodes["cached"]
    ran = run_json(str(out), env=subprocess_env)
    assert ran["result"] == -2
    with DuckDBEventLog(database_path()) as log:
        (run,) = log.runs()
        failed = [e for e in log.events(run.run_id) if e.type == "NodeFailed" and e.node_id == "fetch"]
    assert len(failed) == 2  # the first attempt and its retry, then the fallback
