"""Graph spec: building, validation naming the offending nodes, JSON form and schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agentcore_nb import Graph, GraphError, Node, Policy, load_graph, save_graph
from agentcore_nb.graph import NODE_KINDS, graph_from_dict, graph_schema, graph_to_dict, problems
from agentcore_nb.graph.policy import Backoff

REPO = Path(__file__).resolve().parents[2]


def double(x: int) -> int:
    return 2 * x


def sample() -> Graph:
    g = Graph("sample", output="c")
    g.node("a", "tests.graph.test_spec:double", inputs={"x": "$input.n"}, retries=2, timeout=1.5)
    g.node("b", code="y = a + 1\ny", inputs=["a"], metadata={"cell": 3})
    g.node("c", double, inputs={"x": "b"}, fallback="d")
    g.node("d", code="0")
    for kind in ("tool", "reason", "memory", "code", "agent", "mesh"):
        g.add_node(Node(f"k_{kind}", kind=kind, config={"x": 1}, after=["a"]))
    return g


def test_all_kinds_are_representable_and_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The spec layer alone: components' per-kind config checks (tested with them) are set aside.
    monkeypatch.setattr("agentcore_nb.graph.validate.KIND_VALIDATORS", {})
    g = sample()
    assert set(NODE_KINDS) == {"python", "tool", "reason", "memory", "code", "agent", "mesh"}
    g.validate()
    path = save_graph(g, tmp_path / "g.json")
    data = json.loads(path.read_text())
    assert data["agentcore_graph"] == 1
    back = load_graph(path)
    assert graph_to_dict(back) == data
    assert back["c"].policy.on_error == "fallback"
    assert back["a"].policy.retries == 2 and back["a"].policy.timeout == 1.5
    assert back["c"].config["callable"] == "tests.graph.test_spec:double"
    assert ("a", "b") in back.edges() and ("b", "c") in back.edges() and ("a", "k_tool") in back.edges()
    assert back.sinks() == ["c", "k_tool", "k_reason", "k_memory", "k_code", "k_agent", "k_mesh"]


def test_schema_validates_examples() -> None:
    schema = graph_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(graph_to_dict(sample()), schema)
    jsonschema.validate(json.loads((REPO / "notebooks" / "demo-graph.json").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"agentcore_graph": 1, "name": "x", "nodes": [{"name": "a", "policy": {"retries": -1}}]}, schema
        )


def invalid(g: Graph) -> list[str]:
    with pytest.raises(GraphError) as info:
        g.validate()
    assert info.value.problems == problems(g)
    return info.value.problems


def test_cycle_is_named() -> None:
    g = Graph("cyc")
    g.node("a", code="1", after=["c"])
    g.node("b", code="1", after=["a"])
    g.node("c", code="1", after=["b"])
    g.node("free", code="1")
    found = invalid(g)
    assert len(found) == 1 and found[0].startswith("cycle: ")
    assert set(found[0][len("cycle: ") :].split(" -> ")) == {"a", "b", "c"}


def test_missing_duplicate_unknown_and_bad_policy_are_named() -> None:
    g = Graph("bad")
    g.node("a", code="1", inputs={"x": "nowhere"})
    g.node("a", code="2")
    g.add_node(Node("w", kind="wizard"))
    g.node("p", code="1", policy=Policy(retries=-1, timeout=0, backoff=Backoff(jitter=2)))
    g.node("q", code="1", after=["ghost"])
    g.node("r", fallback="missing", code="1")
    found = invalid(g)
    text = "\n".join(found)
    assert "node 'a': duplicate name" in text
    assert "node 'a': input 'x' depends on missing node 'nowhere'" not in text  # the second 'a' replaced it
    assert "node 'w': unknown kind 'wizard'" in text
    assert "node 'p': policy retries must be a non-negative integer" in text
    assert "node 'p': policy timeout must be a positive number" in text
    assert "node 'p': policy backoff.jitter must be between 0 and 1" in text
    assert "node 'q': runs after missing node 'ghost'" in text
    assert "node 'r': fallback node 'missing' does not exist" in text


def test_python_node_needs_a_body_and_fallback_rules() -> None:
    g = Graph("body")
    g.add_node(Node("empty"))
    g.node("both", double, code="1")
    g.node("self", code="1", fallback="self")
    g.node("x", code="1", fallback="fb")
    g.node("fb", code="1", inputs=["later"])
    g.node("later", code="1", inputs=["x"])
    g.node("user", code="1", inputs=["fb"])
    text = "\n".join(invalid(g))
    assert "node 'empty': a python node needs exactly one of config.callable or config.code" in text
    assert "node 'both': a python node needs exactly one" in text
    assert "node 'self': falls back to itself" in text
    assert "node 'user': depends on 'fb', which only runs as a fallback" in text


def test_fallback_needs_inputs_ready_before_the_failing_node() -> None:
    g = Graph("fb")
    g.node("x", code="1", fallback="fb")
    g.node("other", code="1")
    g.node("fb", code="1", inputs=["other"])
    assert any("fallback 'fb' needs 'other'" in p for p in invalid(g))


def test_malformed_documents_name_the_problem(tmp_path: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_text('{"agentcore_graph": 1, "name": "x", "nodes": [}')
    with pytest.raises(GraphError, match=r"malformed JSON at line 1 column \d+"):
        load_graph(p)
    with pytest.raises(GraphError, match="does not exist"):
        load_graph(tmp_path / "nope.json")
    with pytest.raises(GraphError, match=r"node 'a': policy.on_error: 'explode' is not one of"):
        graph_from_dict(
            {"agentcore_graph": 1, "name": "x", "nodes": [{"name": "a", "policy": {"on_error": "explode"}}]}
        )
    with pytest.raises(GraphError, match="newer than supported"):
        graph_from_dict({"agentcore_graph": 2, "name": "x", "nodes": []})
    with pytest.raises(GraphError, match="'nodes' is a required property"):
        graph_from_dict({"agentcore_graph": 1, "name": "x"})
    with pytest.raises(GraphError, match="must be a JSON object"):
        graph_from_dict([1, 2])


def test_lambdas_cannot_be_saved_by_reference() -> None:
    g = Graph("l")
    g.node("a", lambda: 1)
    with pytest.raises(GraphError, match="cannot be saved by reference"):
        graph_to_dict(g)


def test_downstream_and_subgraph() -> None:
    g = sample()
    assert g.downstream("b") == ["b", "c"]
    assert set(g.downstream("a")) == {
        "a",
        "b",
        "c",
        "k_tool",
        "k_reason",
        "k_memory",
        "k_code",
        "k_agent",
        "k_mesh",
    }
    sub = g.subgraph(["a", "b"])
    assert list(sub.nodes) == ["a", "b"] and sub.output is None


def test_backoff_grows_exponentially_within_jitter() -> None:
    b = Backoff(initial=0.1, multiplier=2, max=1.0, jitter=0.2)
    for retry, base in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        for _ in range(50):
            assert base * 0.8 - 1e-9 <= b.delay(retry) <= base * 1.2 + 1e-9
    assert Backoff(initial=0.1, jitter=0).delay(3) == pytest.approx(0.4)
