"""One cell as a node: the ``%%node`` header, IPython's transformed magics, kinds."""

from __future__ import annotations

import ast

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from agentcore_nb.errors import AgentcoreError
from agentcore_nb.notebook.cells import classify, parse_header, split_header, strip_header_lines
from agentcore_nb.notebook.magics.framework import MAGICS, magic


@pytest.fixture
def tool_magic():
    @magic("test_fake_tool", help="A tool-kind magic for tests.", kind="tool", modes=("line", "cell"))
    def handler(call):
        return None

    yield handler
    MAGICS.pop("test_fake_tool", None)


def transformed(source: str) -> str:
    """What IPython turns a cell into (with our header transformer in its cleanup stage)."""
    manager = TransformerManager()
    manager.cleanup_transforms.append(strip_header_lines)
    return manager.transform_cell(source)


def info_of(source: str):
    code = transformed(source)
    return classify(ast.parse(code), code, parse_header(source))


def test_split_header():
    assert split_header("\n\n%%node a --retries 1\nx = 1\n") == ("a --retries 1", "x = 1\n")
    assert split_header("x = 1\n%%node a") is None
    assert split_header("%%nodes a\nx") is None
    assert split_header("") is None


def test_parse_header_fields_and_errors():
    h = parse_header("%%node fetch --retries 3 --timeout 2.5 --fallback cached\nx")
    assert (h.name, h.retries, h.timeout, h.fallback) == ("fetch", 3, 2.5, "cached")
    assert h.policy().on_error == "fallback"
    assert parse_header("x = 1") is None
    for bad, message in [
        ("%%node\nx", "the following arguments are required: name"),
        ("%%node 9lives\nx", "invalid node name '9lives'"),
        ("%%node a --retries -1\nx", "retries must be between 0 and 100"),
        ("%%node a --retries many\nx", "retries must be a whole number"),
        ("%%node a --timeout 0\nx", "timeout must be positive"),
        ("%%node a --fallback a\nx", "cannot fall back to itself"),
        ("%%node a b\nx", "unrecognized arguments: b"),
        ("%%node a --help\nx", "--help"),
    ]:
        with pytest.raises(AgentcoreError, match=message):
            parse_header(bad)


def test_header_is_stripped_keeping_line_numbers():
    assert transformed("%%node a\nx = 1\ny = 2\n") == "\nx = 1\ny = 2\n"


def test_malformed_header_is_left_for_the_magic_to_report():
    assert transformed("%%node 9bad\nx = 1\n") == "get_ipython().run_cell_magic('node', '9bad', 'x = 1\\n')\n"


def test_header_above_a_cell_magic_keeps_the_cell_magic_first():
    assert (
        transformed("%%node a\n%%time\nx = 1\n") == "get_ipython().run_cell_magic('time', '', 'x = 1\\n')\n"
    )


def test_plain_cell_is_python_node():
    info = info_of("import os\nx = os.getcwd()")
    assert (info.kind, info.is_node) == ("python", True)
    assert info.names.defines == ("os", "x")


def test_control_magic_only_cells_are_not_nodes():
    for source in [
        "%load_ext autoreload",
        "%graph\n%graph stale",
        "!ls",
        "%%bash\necho hi",
        "# just a comment",
        "",
    ]:
        assert not info_of(source).is_node, source


def test_magic_plus_code_is_a_python_node_and_get_ipython_is_not_a_read():
    info = info_of("%matplotlib inline\nx = y + 1")
    assert (info.kind, info.is_node) == ("python", True)
    assert info.names.reads == ("y",)
    assert info.magics == ("matplotlib",)


def test_cell_magics_that_run_python_make_python_nodes():
    info = info_of("%%time\nx = load(path)")
    assert (info.kind, info.is_node) == ("python", True)
    assert (info.names.defines, info.names.reads) == (("x",), ("load", "path"))
    assert info_of("%%capture out\nprint(1)").is_node


def test_shell_capture_defines_its_target():
    info = info_of("files = !ls")
    assert info.is_node and info.names.defines == ("files",)


def test_kind_comes_from_the_first_magic_with_a_kind(tool_magic):
    assert info_of("%test_fake_tool search weather").kind == "tool"
    assert info_of("%%test_fake_tool\nanything").kind == "tool"
    assert info_of("x = 1\n%test_fake_tool call").kind == "tool"
    named = info_of("%%node lookup --retries 1\n%test_fake_tool call")
    assert (named.kind, named.header.name) == ("tool", "lookup")


def test_named_cell_of_control_magics_is_still_a_node():
    assert info_of("%%node setup\n%load_ext autoreload").is_node
