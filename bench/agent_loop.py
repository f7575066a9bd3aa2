"""Agent loop overhead, measured against LangGraph's prebuilt ReAct agent in the same run.

Both agents run the same two-step conversation with an in-process scripted model (no network): step 1
asks for a tool call, step 2 answers from its result. So what is timed is the frameworks' own loop:
building the step, the tool call (ours goes through the gateway: scope check, JSON-Schema
validation, span, ActionEvent), events, messages.

  loop        one run, per run: agentcore-nb (in-memory event log) vs LangGraph create_react_agent
  durable     the same with the project's DuckDB event log (group commit) vs LangGraph + InMemorySaver
  parallel    one step asking for 4 tools that each sleep 100 ms: wall time of the run (both run
              the calls of a step concurrently)
  offline     one run with the offline reasoner (tool choice by embedding similarity) instead of the
              scripted model, per run

Usage: .venv/bin/python bench/agent_loop.py [--quick]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BARS = {"loop_ratio": 1.0, "durable_ratio": 1.5, "parallel_s": 0.3}
SLEEP = 0.1


def getOrderStatus(order_id: str) -> dict:
    """Look up the delivery status of a customer order by its order id."""
    return {"order_id": order_id, "status": "delivered"}


def slowLookup(order_id: str) -> dict:
    """A lookup that takes 100 ms."""
    time.sleep(SLEEP)
    return {"order_id": order_id, "status": "delivered"}


# ---------------------------------------------------------------------------- agentcore-nb


def ours_setup(home: Path, calls: int, tool: str) -> tuple[Any, Any, Any]:
    from agentcore_nb.agent import Agent
    from agentcore_nb.eventlog.memory import InMemoryEventLog
    from agentcore_nb.models.types import ChatResponse, Provider, ToolCall, Usage
    from agentcore_nb.project import Project
    from agentcore_nb.runtime.runtime import Runtime

    class Scripted(Provider):
        name, model = "scripted", "scripted"

        def _chat(self, messages, tools, max_tokens, key):  # type: ignore[no-untyped-def]
            if messages[-1]["role"] != "tool":
                tc = [ToolCall(f"c{i}", tool, {"order_id": str(1234 + i)}) for i in range(calls)]
                return ChatResponse("", tc, Usage(10, 5), "tool_use")
            return ChatResponse("Order 1234 is delivered.", [], Usage(20, 6))

    project = Project(home)
    project.services["gateway"].register_function(getOrderStatus)
    project.services["gateway"].register_function(slowLookup)
    agent = Agent("support", "You help customers.", model=Scripted(), tools=[tool])
    memory_rt = Runtime(InMemoryEventLog(), services=project.services)
    return project, agent, memory_rt


def time_ours(agent: Any, runtime: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        result = agent.run("Where is my order 1234?", runtime=runtime)
        assert result.ok, result.error
    return (time.perf_counter() - t0) / n


# ---------------------------------------------------------------------------- LangGraph


def langgraph_agent(calls: int, tool_fn: Any, checkpointer: Any = None) -> Any:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.tools import tool as lc_tool
    from langgraph.prebuilt import create_react_agent

    class Scripted(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def _generate(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
        ) -> ChatResult:
            if not isinstance(messages[-1], ToolMessage):
                tc = [
                    {"id": f"c{i}", "name": tool_fn.__name__, "args": {"order_id": str(1234 + i)}}
                    for i in range(calls)
                ]
                msg = AIMessage(content="", tool_calls=tc)
            else:
                msg = AIMessage(content="Order 1234 is delivered.")
            return ChatResult(generations=[ChatGeneration(message=msg)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent moved to langchain.agents (not installed here)
        return create_react_agent(Scripted(), [lc_tool(tool_fn)], checkpointer=checkpointer)


def time_langgraph(graph: Any, n: int, threaded: bool = False) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        config = {"configurable": {"thread_id": uuid.uuid4().hex}} if threaded else None
        out = graph.invoke({"messages": [("user", "Where is my order 1234?")]}, config=config)
        assert out["messages"][-1].content == "Order 1234 is delivered."
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 30 if args.quick else 200
    from langgraph.checkpoint.memory import InMemorySaver

    with tempfile.TemporaryDirectory() as tmp:
        project, agent, memory_rt = ours_setup(Path(tmp) / "state", 1, "getOrderStatus")
        durable_rt = project.runtime()
        lg = langgraph_agent(1, getOrderStatus)
        lg_saver = langgraph_agent(1, getOrderStatus, checkpointer=InMemorySaver())
        # warm up both
        time_ours(agent, memory_rt, 5)
        time_ours(agent, durable_rt, 5)
        time_langgraph(lg, 5)
        time_langgraph(lg_saver, 5, threaded=True)
        ours, theirs, ours_d, theirs_d = [], [], [], []
        for _ in range(3):
            ours.append(time_ours(agent, memory_rt, n))
            theirs.append(time_langgraph(lg, n))
            ours_d.append(time_ours(agent, durable_rt, n))
            theirs_d.append(time_langgraph(lg_saver, n, threaded=True))
        loop_us, lg_us = statistics.median(ours) * 1e6, statistics.median(theirs) * 1e6
        durable_us, lg_saver_us = statistics.median(ours_d) * 1e6, statistics.median(theirs_d) * 1e6
        print(
            f"loop     agentcore-nb {loop_us:8.0f} us/run   LangGraph {lg_us:8.0f} us/run   ratio {loop_us / lg_us:.3f}"
        )
        print(
            f"durable  agentcore-nb {durable_us:8.0f} us/run   LangGraph+saver {lg_saver_us:8.0f} us/run   ratio {durable_us / lg_saver_us:.3f}"
        )

        # four slow tools in one step
        _, par_agent, _ = ours_setup(Path(tmp) / "state", 4, "slowLookup")
        par_lg = langgraph_agent(4, slowLookup)
        t0 = time.perf_counter()
        result = par_agent.run("Where are orders 1234-1237?", runtime=memory_rt)
        assert result.ok, result.error
        parallel_s = time.perf_counter() - t0
        lg_parallel_s = time_langgraph(par_lg, 1)
        print(
            f"parallel 4 x {SLEEP * 1000:.0f} ms tools: agentcore-nb {parallel_s:.3f} s   LangGraph {lg_parallel_s:.3f} s"
        )

        # the offline reasoner picking the tool itself
        from agentcore_nb.agent import Agent

        offline = Agent("support", "You help customers.", model="offline", tools=["getOrderStatus"])
        offline.run("Where is my order 1234?", runtime=memory_rt)
        t0 = time.perf_counter()
        for _ in range(n):
            offline.run("Where is my order 1234?", runtime=memory_rt)
        offline_us = (time.perf_counter() - t0) / n * 1e6
        print(f"offline  agentcore-nb with the offline reasoner {offline_us:8.0f} us/run")
        memory_rt.close()
        project.close()

    figures = {
        "loop_ratio": round(loop_us / lg_us, 4),
        "durable_ratio": round(durable_us / lg_saver_us, 4),
        "parallel_s": round(parallel_s, 4),
        "loop_us": round(loop_us, 1),
        "langgraph_loop_us": round(lg_us, 1),
        "durable_us": round(durable_us, 1),
        "langgraph_saver_us": round(lg_saver_us, 1),
        "langgraph_parallel_s": round(lg_parallel_s, 4),
        "offline_us": round(offline_us, 1),
        "quick": args.quick,
    }
    figures["meets_bars"] = all(figures[k] <= v for k, v in BARS.items())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
