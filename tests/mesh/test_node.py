"""The ``mesh`` node kind on a project runtime: request, publish, bad config, a timeout as a node failure."""

from __future__ import annotations

import pytest

from agentcore_nb import Graph, Project
from agentcore_nb.errors import GraphError
from agentcore_nb.mesh import Bus, InProcessBackend


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "home")
    bus = Bus(InProcessBackend(), name="node-test")  # a private bus, not the process-wide one
    p.services.set("mesh", bus)
    yield p, bus
    bus.close()
    p.close()


def test_a_request_node_gets_the_reply_and_a_publish_node_the_message_id(project):
    p, bus = project
    bus.subscribe("kitchen.grill", lambda payload, m: f"grilled {payload['item']} for {payload['table']}")
    got = []
    bus.subscribe("kitchen.audit", lambda payload, m: got.append(payload))
    g = Graph("order")
    g.node(
        "grill",
        kind="mesh",
        inputs={"item": "$input.item"},
        config={"topic": "kitchen.grill", "payload": {"table": 7}},
    )
    g.node(
        "audit", kind="mesh", inputs={"plate": "grill"}, config={"topic": "kitchen.audit", "mode": "publish"}
    )
    result = p.runtime().run(g, {"item": "corn"}).raise_for_status()
    assert result.outputs["grill"] == "grilled corn for 7"
    assert isinstance(result.outputs["audit"], str) and len(result.outputs["audit"]) == 24
    events = p.event_log.events(result.run_id)
    assert [e.kind for e in events if e.type == "NodeSucceeded"] == ["mesh", "mesh"]


def test_a_request_nobody_answers_fails_the_node_with_one_line(project):
    p, _ = project
    g = Graph("lonely")
    g.node("ask", kind="mesh", config={"topic": "nobody.home", "timeout": 0.2})
    result = p.runtime().run(g)
    assert not result.ok
    assert "no reply on 'nobody.home'" in result.errors["ask"]


@pytest.mark.parametrize(
    "config, message",
    [
        ({}, "needs config.topic"),
        ({"topic": "a b"}, "needs config.topic"),
        ({"topic": "t", "mode": "shout"}, "config.mode"),
        ({"topic": "t", "timeout": -1}, "config.timeout"),
        ({"topic": "t", "payload": [1]}, "config.payload"),
    ],
)
def test_bad_mesh_node_config_is_refused_before_the_run(project, config, message):
    p, _ = project
    g = Graph("bad")
    g.node("x", kind="mesh", config=config)
    with pytest.raises(GraphError, match=message):
        p.runtime().run(g)
