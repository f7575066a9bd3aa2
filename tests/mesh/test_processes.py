"""Workers in separate processes on a real redis-server: SIGKILL mid-task, broker restart, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentcore_nb.mesh import open_bus

HERE = Path(__file__).parent
STATION = HERE / "station.json"
DEADLINE = 60.0


def cli(*args: str, home: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGENTCORE_HOME": str(home), "FORCE_COLOR": "", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kw,
    )


def start_worker(
    url: str, topic: str, home: Path, name: str, *extra: str, target: Path = STATION
) -> subprocess.Popen:
    env = {**os.environ, "AGENTCORE_HOME": str(home), "FORCE_COLOR": ""}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentcore_nb.cli",
            "mesh",
            "worker",
            str(target),
            "--topic",
            topic,
            "--redis",
            url,
            "--name",
            name,
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()  # "worker NAME serving ..." once it consumes
    assert "serving" in line, line + proc.stderr.read()
    return proc


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


@pytest.fixture
def url(redis_server):
    redis_server.flush()
    return redis_server.url


def test_a_worker_killed_mid_task_has_its_message_finished_by_another_once(url, tmp_path):
    marker = tmp_path / "started"
    first = start_worker(url, "kitchen.grill", tmp_path / "a", "first", "--claim-idle", "1")
    bus = open_bus(url)
    result: dict = {}
    t = threading.Thread(
        target=lambda: result.update(
            v=bus.request(
                "kitchen.grill", {"item": "steak", "pause": 5, "marker": str(marker)}, timeout=DEADLINE
            )
        )
    )
    t.start()
    deadline = time.monotonic() + DEADLINE
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the first worker never started the task"
    first.kill()  # SIGKILL mid-task: the message stays pending in the group
    first.wait(10)
    second = start_worker(url, "kitchen.grill", tmp_path / "b", "second", "--claim-idle", "1")
    try:
        t.join(DEADLINE)
        assert result["v"]["cooked"] == "steak"
        assert result["v"]["by"] == second.pid
        status = json.loads(cli("mesh", "status", "--redis", url, "--json", home=tmp_path / "c").stdout)
        assert status["kitchen.grill"]["groups"]["workers"]["pending"] == 0
    finally:
        err = stop(second)
        bus.close()
    assert "1 handled" in err


def test_redis_restarted_during_a_run_loses_nothing_acknowledged(redis_server, url, tmp_path):
    bus = open_bus(url)
    try:
        got: list = []
        sub = bus.subscribe("orders", lambda p, m: got.append(p), poll_s=0.1)
        for i in range(10):
            bus.publish("orders", i)
        redis_server.kill()  # SIGKILL: the append-only file is all that survives
        redis_server.start()
        for i in range(10, 20):
            bus.publish("orders", i)  # reconnects
        deadline = time.monotonic() + DEADLINE
        while sorted(set(got)) != list(range(20)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(set(got)) == list(range(20))
        assert sub.alive
    finally:
        bus.close()


def test_cli_send_request_and_status(url, tmp_path):
    worker = start_worker(url, "kitchen.fry", tmp_path / "w", "fryer")
    try:
        out = cli("mesh", "request", "kitchen.fry", '{"item": "fries"}', "--redis", url, home=tmp_path / "c")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["cooked"] == "fries"
        sent = cli("mesh", "send", "kitchen.fry", '{"item": "rings"}', "--redis", url, home=tmp_path / "c")
        assert sent.returncode == 0 and len(sent.stdout.strip()) == 24
        status = cli("mesh", "status", "--redis", url, home=tmp_path / "c")
        assert "kitchen.fry" in status.stdout
    finally:
        stop(worker)


def test_cli_errors_are_one_line(url, tmp_path):
    nobody = cli("mesh", "request", "nobody.home", "{}", "--redis", url, "--timeout", "0.3", home=tmp_path)
    assert nobody.returncode == 1
    assert nobody.stderr.strip().count("\n") == 0 and "no reply on 'nobody.home'" in nobody.stderr
    bad = cli("mesh", "send", "t", "{not json", "--redis", url, home=tmp_path)
    assert bad.returncode == 1 and "payload is not valid JSON" in bad.stderr
    env = {**os.environ, "AGENTCORE_HOME": str(tmp_path)}
    unreachable = subprocess.run(
        [
            sys.executable,
            "-c",
            "from agentcore_nb.mesh.redis_backend import RedisBackend\n"
            "from agentcore_nb.mesh import MeshError\n"
            "try:\n    RedisBackend('redis://127.0.0.1:1/0', reconnect_s=0.5)\n"
            "except MeshError as e:\n    print(e)",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Redis at redis://127.0.0.1:1/0 is unreachable" in unreachable.stdout
    missing = cli(
        "mesh", "worker", str(tmp_path / "nope.json"), "--topic", "t", "--redis", url, home=tmp_path
    )
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_one_trace_spans_the_orchestrator_and_workers_in_other_processes(url, tmp_path):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    workers = []
    for topic in ("kitchen.grill", "kitchen.fry"):
        spans_file = tmp_path / f"{topic}.jsonl"
        env = {
            **os.environ,
            "AGENTCORE_HOME": str(tmp_path / topic),
            "SPANS_FILE": str(spans_file),
            "FORCE_COLOR": "",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "traced_worker.py"),
                "mesh",
                "worker",
                str(STATION),
                "--topic",
                topic,
                "--redis",
                url,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert "serving" in proc.stderr.readline()
        workers.append((proc, spans_file))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("orchestrator")
    bus = open_bus(url, tracer_provider=provider)
    try:
        with tracer.start_as_current_span("orchestrate order 42") as root:
            plates = [
                bus.request(t, {"item": i}, timeout=DEADLINE)
                for t, i in (("kitchen.grill", "burger"), ("kitchen.fry", "fries"))
            ]
        assert [p["cooked"] for p in plates] == ["burger", "fries"]
    finally:
        bus.close()
        for proc, _ in workers:
            stop(proc)
    trace_id = format(root.get_span_context().trace_id, "032x")
    sends = {
        s.name: format(s.context.span_id, "016x")
        for s in exporter.get_finished_spans()
        if s.name.startswith("send ")
    }
    for (proc, spans_file), topic in zip(workers, ("kitchen.grill", "kitchen.fry")):
        spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
        assert spans, f"the {topic} worker recorded no span"
        assert {s["context"]["trace_id"] for s in spans} == {"0x" + trace_id}
        process = next(s for s in spans if s["name"] == f"process {topic}")
        assert process["parent_id"] == "0x" + sends[f"send {topic}"]
        run = next(s for s in spans if s["name"].startswith("invoke_workflow"))
        assert run["parent_id"] == process["context"]["span_id"]


def write_station_notebook(path: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    params = new_code_cell('item = "burger"\ntable = 1')
    params.metadata["tags"] = ["parameters"]
    out = new_code_cell('plate = f"grilled {item} for table {table}"\nplate')
    out.metadata["tags"] = ["output"]
    nb = new_notebook(
        cells=[params, out],
        metadata={"kernelspec": {"name": "agentcore", "language": "python", "display_name": "AgentCore"}},
    )
    nbformat.write(nb, path)
    return path


def test_an_exported_bundle_serves_a_topic_and_answers_as_run_local_does(url, tmp_path):
    notebook = write_station_notebook(tmp_path / "grill.ipynb")
    bundle = tmp_path / "grill-bundle"
    exported = cli("export", str(notebook), "-o", str(bundle), home=tmp_path / "x")
    assert exported.returncode == 0, exported.stderr
    local = cli(
        "run", "local", str(bundle), "--input", '{"item": "corn", "table": 7}', "--json", home=tmp_path / "x"
    )
    assert local.returncode == 0, local.stderr
    worker = start_worker(
        url, "kitchen.grill", tmp_path / "w", "grill", "--max-deliveries", "1", target=bundle
    )
    bus = open_bus(url)
    try:
        reply = bus.request("kitchen.grill", {"item": "corn", "table": 7}, timeout=DEADLINE)
        assert reply == "grilled corn for table 7"
        assert reply in local.stdout
        with pytest.raises(Exception, match="table|parameter"):
            bus.request("kitchen.grill", {"item": "corn", "chairs": 2}, timeout=DEADLINE)
    finally:
        bus.close()
        stop(worker)
