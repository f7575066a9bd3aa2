"""``agentcore invoke`` against a real ``agentcore serve``; an exported notebook served with its
parameters set by the body's keys, exactly as ``run local --input``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcore_nb.export import export_notebook
from tests.conftest import REPO
from tests.helpers.served import Served


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["AGENTCORE_HOME"] = str(home)
    return env


def invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "invoke", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "FORCE_COLOR"},
    )


def test_invoke_prints_json_and_streams(served: Served) -> None:
    done = invoke('{"hello": "world"}', "--url", served.url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"got": {"hello": "world"}}
    done = invoke('{"op": "stream", "n": 3}', "--url", served.url, "--stream")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"chunk": i} for i in range(3)]


def test_invoke_sends_the_session(served: Served) -> None:
    for text in ("one", "two"):
        done = invoke(
            json.dumps({"op": "remember", "text": text}), "--url", served.url, "--session-id", "cli-s"
        )
    assert json.loads(done.stdout) == {"notes": ["one", "two"]}
    done = invoke('{"op": "ctx"}', "--url", served.url, "--session-id", "cli-s")
    assert json.loads(done.stdout)["session_id"] == "cli-s"


def test_invoke_refused_or_unreachable_is_one_line(served: Served) -> None:
    done = invoke('{"op": "fail"}', "--url", served.url)
    assert done.returncode == 1
    assert done.stderr.startswith("error: the service refused the request: HTTP 500")
    assert "Traceback" not in done.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = invoke("1", "--url", f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: nothing is listening at http://127.0.0.1:{port}")
    done = invoke("{bad", "--url", served.url)
    assert done.returncode == 1 and "PAYLOAD" in done.stderr


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("exported")
    bundle = export_notebook(REPO / "notebooks" / "06-export.ipynb", root / "bundle")
    with Served(bundle, env=_env(root / "home"), cwd=REPO / "notebooks") as server:
        yield server


def test_an_exported_notebook_takes_its_parameters_from_the_body(exported: Served) -> None:
    done = invoke('{"order_id": "5678"}', "--url", exported.url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["order"] == "5678"
    assert result["status"] and "5678" in result["reply"]
    default = json.loads(invoke("{}", "--url", exported.url).stdout)
    assert default["order"] == "1234"


def test_an_exported_notebook_refuses_unknown_parameters(exported: Served) -> None:
    done = invoke('{"nope": 1}', "--url", exported.url)
    assert done.returncode == 1
    assert "HTTP 400" in done.stderr and "'nope' is not a parameter" in done.stderr
    done = invoke('"just text"', "--url", exported.url)
    assert done.returncode == 1 and "HTTP 400" in done.stderr
