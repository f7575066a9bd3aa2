"""Export refuses an unsound notebook with one report (each cell: id, first line, reason, fix) and
writes nothing; one test per reason, plus the CLI's form of the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentcore_nb.export import ExportError, export_notebook

from .conftest import agentcore, write_notebook


def refused(nb_dir: Path, cells: list, **kw) -> ExportError:  # type: ignore[type-arg]
    path = write_notebook(nb_dir / "n.ipynb", cells, **kw)
    out = nb_dir / "bundle"
    with pytest.raises(ExportError) as err:
        export_notebook(path, out)
    assert not out.exists(), "a refused export wrote files"
    assert not [p for p in nb_dir.iterdir() if p.name.startswith(".bundle")], "temporary files left behind"
    return err.value


def test_read_of_a_name_nobody_defines(nb_dir: Path):
    err = refused(nb_dir, ["x = 1", "y = x + z"])
    assert len(err.problems) == 1
    assert "cell c002 (y = x + z)" in err.problems[0].message
    assert "'z'" in err.problems[0].message and "no exported cell defines" in err.problems[0].message
    assert "fix:" in err.problems[0].message
    (problem,) = err.problems
    assert (problem.kind, problem.cell_id, problem.index) == ("unbound", "c002", 2)
    assert problem.to_dict() == {"kind": "unbound", "cell_id": "c002", "index": 2, "message": problem.message}
    assert "\n" not in str(err) and problem.message in str(err)  # the CLI's one line holds every problem


def test_read_of_a_name_only_a_skipped_cell_defines_names_that_cell(nb_dir: Path):
    err = refused(nb_dir, [("z = 2", ["skip-export"]), "y = z"])
    assert "untag cell c001 (z = 2)" in err.problems[0].message


def test_cycle(nb_dir: Path):
    err = refused(nb_dir, ["a = b + 1", "b = a + 1"])
    assert any("cycle" in p.message and "c001" in p.message for p in err.problems)


def test_read_before_definition_says_move_the_cell(nb_dir: Path):
    err = refused(nb_dir, ["print(late)", "late = 1"])
    assert "before cell c002 (late = 1) defines it" in err.problems[0].message


@pytest.mark.parametrize(
    "source, what",
    [
        ("!ls -la", "shell escape !ls"),
        ("files = !ls", "shell escape"),
        ("%cd /tmp", "%cd changes the kernel's state"),
        ("%pip install requests", "%pip changes the kernel's state"),
        ("%run other.py", "%run changes the kernel's state"),
        ("%%bash\necho hi", "%%bash changes the kernel's state"),
        ("%env SECRET=1", "%env changes the kernel's state"),
    ],
)
def test_shell_escapes_and_kernel_state_magics(nb_dir: Path, source: str, what: str):
    err = refused(nb_dir, ["x = 1", source])
    assert len(err.problems) == 1 and what in err.problems[0].message and "c002" in err.problems[0].message


def test_a_name_defined_by_two_cells_where_order_decides(nb_dir: Path):
    err = refused(nb_dir, ["rate = 0.1", "rate = 0.2", "price = 100 * rate"])
    assert len(err.problems) == 1
    assert "cell c002 (rate = 0.2): redefines 'rate'" in err.problems[0].message
    assert "c001" in err.problems[0].message and "c003" in err.problems[0].message


def test_an_update_of_a_name_is_not_a_conflict(nb_dir: Path, tmp_path: Path):
    path = write_notebook(nb_dir / "n.ipynb", ["n = 1", "n += 1", "m = n * 10"])
    assert (export_notebook(path, tmp_path / "b") / "graph.json").exists()


def test_syntax_error(nb_dir: Path):
    err = refused(nb_dir, ["x = = 1"])
    assert "cell c001 (x = = 1): syntax error" in err.problems[0].message


def test_parameters_cell_that_is_not_plain_assignments(nb_dir: Path):
    err = refused(nb_dir, [("import os\nn = 3", ["parameters"]), "m = n"])
    assert "not plain assignments" in err.problems[0].message
    err = refused(nb_dir, [("n = len('abc')", ["parameters"]), "m = n"])
    assert "'n' is not a literal value" in err.problems[0].message


def test_python_mixed_with_magics(nb_dir: Path):
    err = refused(nb_dir, ["%tool call getOrderStatus '{}'\nx = 1"])
    assert "mixes Python with magics" in err.problems[0].message


def test_ipython_shell_use(nb_dir: Path):
    err = refused(nb_dir, ["ip = get_ipython()"])
    assert "IPython shell" in err.problems[0].message


def test_every_problem_in_one_report(nb_dir: Path):
    err = refused(nb_dir, ["!pwd", "y = q", "%cd /", "x = = 2"])
    assert len(err.problems) == 4
    assert [p.message.split(" ", 2)[1] for p in err.problems] == ["c001", "c002", "c003", "c004"]
    assert err.report.count("\n  - ") == 4
    assert [(p.cell_id, p.index) for p in err.problems] == [
        ("c001", 1),
        ("c002", 2),
        ("c003", 3),
        ("c004", 4),
    ]
    assert [p.kind for p in err.problems] == ["cell", "unbound", "cell", "syntax"]
    assert all(p.message.startswith(f"cell {p.cell_id} (") for p in err.problems)


def test_a_problem_about_several_cells_names_no_cell_and_comes_last(nb_dir: Path):
    err = refused(nb_dir, [("a = 1\na", ["output"]), ("b = 2\nb", ["output"]), "y = q"])
    assert [(p.kind, p.cell_id, p.index) for p in err.problems] == [
        ("unbound", "c003", 3),
        ("output", None, None),
    ]
    assert err.problems[1].message == "cells c001, c002 are all tagged output -> fix: tag one"


def test_a_cell_that_cannot_run_as_a_function_is_a_problem_of_that_cell(nb_dir: Path):
    err = refused(nb_dir, ["x = 1", "from os.path import *\ny = x"])
    (problem,) = err.problems
    assert (problem.kind, problem.cell_id, problem.index) == ("function", "c002", 2)
    assert "cannot run as a function" in problem.message and "fix:" in problem.message


def test_empty_notebook(nb_dir: Path):
    err = refused(nb_dir, [])
    assert "no code cells" in str(err)


def test_notebook_of_another_language(nb_dir: Path):
    err = refused(nb_dir, ["x <- 1"], language="R")
    assert "R notebook" in str(err)


def test_not_a_notebook(nb_dir: Path):
    bad = nb_dir / "n.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ExportError, match="cannot read notebook"):
        export_notebook(bad, nb_dir / "bundle")
    assert not (nb_dir / "bundle").exists()


def test_cli_prints_one_report_and_exits_non_zero(nb_dir: Path, subprocess_env: dict[str, str]):
    path = write_notebook(nb_dir / "n.ipynb", ["!pwd", "y = q"])
    done = agentcore("export", str(path), "-o", str(nb_dir / "out"), env=subprocess_env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: cannot export n.ipynb: 2 problem(s)")
    assert len(lines) == 3 and all(ln.startswith("  - cell c00") for ln in lines[1:])
    assert not (nb_dir / "out").exists()


def test_existing_directory_that_is_not_a_bundle_is_not_overwritten(nb_dir: Path):
    path = write_notebook(nb_dir / "n.ipynb", ["x = 1"])
    other = nb_dir / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="is not a bundle"):
        export_notebook(path, other)
    assert (other / "notes.txt").read_text() == "keep me"


def test_output_tag_on_a_cell_that_computes_nothing(nb_dir: Path):
    err = refused(nb_dir, [("%model offline", ["output"]), "x = 1"])
    assert "c001" in err.problems[0].message and "tagged output" in err.problems[0].message


def test_cells_without_ids_are_named_by_position(nb_dir: Path):
    import nbformat

    path = write_notebook(nb_dir / "n.ipynb", ["x = 1", "y = q"])
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        del c["id"]
    nb.nbformat_minor = 4
    nbformat.write(nb, path)
    with pytest.raises(ExportError) as err:
        export_notebook(path, nb_dir / "b")
    assert err.value.problems[0].message.startswith("cell #2 (y = q): reads 'q'")
    assert (err.value.problems[0].cell_id, err.value.problems[0].index) == (None, 2)
