"""The seed's AI Ops example through an agent's tool calls: the model (a real local server speaking
the OpenAI / Anthropic wire format) writes metrics.csv into the sandbox and computes a rolling CPU
average with pandas via the gateway's built-in interpreter tools."""

from __future__ import annotations

import json

from agentcore_nb.agent import Agent
from tests.models.fakes import Reply

from .conftest import Turn

CSV = "ts,cpu\n" + "".join(f"{i},{50 + (i % 5) * 10}\n" for i in range(20))
CODE = (
    "import pandas as pd\n"
    "df = pd.read_csv('metrics.csv')\n"
    "df['rolling_avg'] = df['cpu'].rolling(5).mean()\n"
    "print(round(df['rolling_avg'].iloc[-1], 1))"
)


def ops_script(turn: Turn) -> Reply:
    if turn.steps == 0:
        return Reply(tool_calls=[("writeFiles", {"content": [{"path": "metrics.csv", "text": CSV}]})])
    if turn.steps == 1:
        return Reply(tool_calls=[("executeCode", {"language": "python", "code": CODE})])
    out = json.loads(turn.results[-1][0]) if turn.results[-1][0].startswith("{") else {}
    return Reply(text=f"Rolling CPU average (last 5): {str(out.get('stdout', turn.results[-1][0])).strip()}")


def test_rolling_cpu_average_through_agent_tool_calls(make_model, project) -> None:
    model = make_model(ops_script)
    agent = Agent(
        "ops", "You analyse server metrics.", model=model.provider, tools=["writeFiles", "executeCode"]
    )
    result = agent.run("What is the rolling CPU average in metrics.csv?", project=project)
    assert result.ok, result.error
    assert result.answer == "Rolling CPU average (last 5): 70.0"
    assert set(model.turns[0].tools) == {"writeFiles", "executeCode"}
