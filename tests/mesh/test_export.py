"""``%mesh`` cells as typed nodes for export, and an agent request's ``{name}`` fields as edges."""

from __future__ import annotations

import pytest

from agentcore_nb.notebook.nodes import CellParseError, cell_node


def test_mesh_send_and_request_are_mesh_steps():
    n = cell_node('%mesh request kitchen.grill \'{"item": "burger"}\' --timeout 5')
    assert (n.role, n.kind, n.defines) == ("step", "mesh", ("_mesh_reply",))
    assert n.config == {
        "topic": "kitchen.grill",
        "mode": "request",
        "payload": {"item": "burger"},
        "timeout": 5.0,
    }
    n = cell_node("%mesh send kitchen.audit '{\"order\": 42}' --key order-42")
    assert n.config == {
        "topic": "kitchen.audit",
        "mode": "publish",
        "payload": {"order": 42},
        "key": "order-42",
    }


def test_mesh_views_are_left_out_and_serving_is_refused_with_the_fix():
    assert cell_node("%mesh status").role == "view"
    assert cell_node("%mesh dead kitchen.oven").role == "view"
    with pytest.raises(CellParseError, match="agentcore mesh worker"):
        cell_node("%mesh serve kitchen.grill --agent grill_cook")
    with pytest.raises(CellParseError, match="not JSON"):
        cell_node("%mesh request kitchen.grill '{nope'")


def test_an_agent_request_template_reads_the_names_it_fills():
    n = cell_node('%agent expo "{order} for table {table}"')
    assert n.reads == ("order", "table")
    assert n.config == {"agent": "expo", "request": "{order} for table {table}"}
