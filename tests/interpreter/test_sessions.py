"""Sessions, results and files of the code interpreter, in a real bubblewrap sandbox."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore_nb.eventlog.memory import InMemoryEventLog
from agentcore_nb.interpreter import (
    ExecutionResult,
    Interpreter,
    InterpreterError,
    Limits,
    SandboxUnavailableError,
    procs,
)
from agentcore_nb.interpreter.limits import MiB

from ..helpers.overlap import wait_until
from .conftest import ROOTLESS

METRICS_CSV = "ts,cpu\n" + "\n".join(f"{i},{(i * 37) % 100}" for i in range(40)) + "\n"
AI_OPS = (
    "import pandas as pd\n"
    "df = pd.read_csv('metrics.csv')\n"
    "df['rolling_avg'] = df['cpu'].rolling(10).mean()\n"
    "df.tail()"
)


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory):
    """Default limits (pandas and matplotlib need room), plus a log and a span exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    log = InMemoryEventLog()
    it = Interpreter(
        tmp_path_factory.mktemp("roomy"),
        limits=Limits(wall_seconds=60),
        event_log=log,
        tracer_provider=provider,
    )
    it.test_log, it.test_spans = log, exporter  # type: ignore[attr-defined]
    yield it
    it.close()


def text_of(r: ExecutionResult) -> str:
    return "".join(x["data"].get("text/plain", "") for x in r.results)


# ---------------------------------------------------------------- state


@pytest.mark.parametrize(
    ("lang", "define", "use", "expect"),
    [
        ("python", "counter = 41", "counter += 1\ncounter", "42"),
        ("javascript", "var counter = 41", "counter += 1; counter", "42"),
        ("r", "counter <- 41", "counter <- counter + 1\ncounter", "42"),
    ],
)
def test_variables_persist_until_clear_context(roomy, lang, define, use, expect):
    session = f"state-{lang}"
    assert roomy.execute_code(define, language=lang, session=session).ok
    again = roomy.execute_code(use, language=lang, session=session)
    assert again.ok, again.error
    assert expect in again.stdout + text_of(again)
    cleared = roomy.execute_code(use, language=lang, session=session, clear_context=True)
    assert not cleared.ok  # the variable is gone
    assert cleared.error["name"] in ("NameError", "ReferenceError", "simpleError")


def test_errors_have_name_message_and_a_traceback_of_the_users_code(roomy):
    r = roomy.execute_code("def inner():\n    return 1 / 0\n\ninner()", session="errors")
    assert r.exit_code == 1 and not r.ok
    assert r.error["name"] == "ZeroDivisionError"
    assert r.error["message"] == "division by zero"
    assert "line 4, in <module>" in r.error["traceback"] and "in inner" in r.error["traceback"]
    assert "pykernel" not in r.error["traceback"]
    js = roomy.execute_code(
        "function f() { throw new TypeError('bad'); }\nf()", language="js", session="errors"
    )
    assert (
        js.error["name"] == "TypeError"
        and "at f" in js.error["traceback"]
        and "jskernel" not in js.error["traceback"]
    )
    r_err = roomy.execute_code("f <- function() stop('deep')\nf()", language="r", session="errors")
    assert r_err.error["message"] == "deep" and "f()" in r_err.error["traceback"]
    syntax = roomy.execute_code("def (:", session="errors")
    assert syntax.error["name"] == "SyntaxError"
    exited = roomy.execute_code("import sys; sys.exit(3)", session="errors")
    assert exited.error["name"] == "SystemExit"
    assert roomy.execute_code("1 + 1", session="errors").ok  # the interpreter lives on


def test_an_interpreter_that_dies_is_restarted_and_says_so(roomy):
    roomy.execute_code("x = 1", session="dies")
    r = roomy.execute_code("import os\nos._exit(9)", session="dies")
    assert r.restarted and r.error["name"] == "InterpreterDied"
    after = roomy.execute_code("print('x' in globals())", session="dies")
    assert after.ok and after.stdout == "False\n"


#: Writes 32 MiB while another process keeps signalling the interpreter: a signal landing in a
#: blocked pipe write makes it return early (node then queued the rest in memory and replied
#: before the output left: under the output cap's interrupt on a busy machine, a gigabyte loop
#: queued it all and died of heap exhaustion).
SIGNALLED_WRITES = {
    "javascript": (
        "process.on('SIGUSR2', () => {});\n"
        "var blaster = require('child_process').spawn(process.execPath, ['-e',\n"
        "  'for (;;) { try { process.kill(' + process.pid + ', \"SIGUSR2\"); } "
        "catch (e) { process.exit(0); } }'], { stdio: 'ignore' });\n"
        "var t0 = Date.now(); while (Date.now() - t0 < 300) {}\n"
        "var chunk = 'y'.repeat(1 << 20);\n"
        "for (let i = 0; i < 32; i++) process.stdout.write(chunk);\n"
        "blaster.kill('SIGKILL');\n"
    ),
    "python": (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGUSR2, lambda *a: None)\n"
        "blaster = subprocess.Popen([sys.executable, '-c', 'import os, signal\\n"
        "while True: os.kill(%d, signal.SIGUSR2)' % os.getpid()])\n"
        "time.sleep(0.3)\n"
        "chunk = 'y' * (1 << 20)\n"
        "for _ in range(32):\n    sys.stdout.write(chunk)\n"
        "sys.stdout.flush()\n"
        "blaster.kill(); blaster.wait()\n"
    ),
}


@pytest.mark.parametrize("lang", sorted(SIGNALLED_WRITES))
def test_output_written_under_signals_is_all_in_the_reply(roomy, lang):
    limits = Limits(wall_seconds=60, output_bytes=64 * MiB)
    r = roomy.execute_code(SIGNALLED_WRITES[lang], language=lang, session=f"signals-{lang}", limits=limits)
    assert r.ok, r.error
    assert len(r.stdout) == 32 * MiB and set(r.stdout) == {"y"}
    after = roomy.execute_code("1 + 1", language=lang, session=f"signals-{lang}", limits=limits)
    assert after.ok and after.stdout == "" and not after.restarted  # nothing arrives late


# ---------------------------------------------------------------- results


def test_result_measures_time_cpu_and_peak_memory(roomy):
    r = roomy.execute_code(
        "import time\nx = bytearray(120 * 1024 * 1024)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\n"
        "t = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass\ndel x\nprint('done')",
        session="measure",
    )
    assert r.ok and r.stdout == "done\n"
    assert r.peak_memory_bytes >= 120 * MiB
    assert r.cpu_ms >= 250
    assert r.wall_ms >= r.cpu_ms * 0.5
    assert r.sandbox == "bubblewrap" and r.warning == "" and r.limits_hit == []
    small = roomy.execute_code("y = 1", session="measure")
    assert small.peak_memory_bytes < 100 * MiB  # the peak is per execution


def test_ai_ops_example_dataframe_comes_back_as_table_json_and_html(roomy):
    roomy.write_files([{"path": "metrics.csv", "text": METRICS_CSV}], session="aiops")
    r = roomy.execute_code(AI_OPS, session="aiops")
    assert r.ok, r.error
    (table,) = r.results
    data = table["data"]
    assert "<table" in data["text/html"] and "rolling_avg" in data["text/html"]
    resource = data["application/vnd.dataresource+json"]
    assert [f["name"] for f in resource["schema"]["fields"]] == ["index", "ts", "cpu", "rolling_avg"]
    rows = resource["data"]
    assert [row["ts"] for row in rows] == [35, 36, 37, 38, 39]
    cpu = [(i * 37) % 100 for i in range(40)]
    assert rows[-1]["rolling_avg"] == pytest.approx(sum(cpu[30:40]) / 10)


def test_plots_come_back_as_png(roomy):
    r = roomy.execute_code(
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('cpu')\nNone", session="plots"
    )
    assert r.ok, (r.error, r.stderr)
    pngs = [x["data"]["image/png"] for x in r.results if "image/png" in x["data"]]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG\r\n\x1a\n")
    rplot = roomy.execute_code("plot(1:10)", language="r", session="plots")
    assert rplot.ok, rplot.error
    assert base64.b64decode(rplot.results[0]["data"]["image/png"]).startswith(b"\x89PNG")


# ---------------------------------------------------------------- files


def test_files_are_written_read_listed_and_removed_inside_the_work_dir(roomy):
    s = "files"
    blob = base64.b64encode(bytes(range(256))).decode()
    written = roomy.write_files(
        [{"path": "data/a.txt", "text": "hello"}, {"path": "/workspace/b.bin", "blob": blob}], session=s
    )
    assert written == [{"path": "data/a.txt", "size": 5}, {"path": "/workspace/b.bin", "size": 256}]
    r = roomy.execute_code(
        "print(open('data/a.txt').read(), len(open('/workspace/b.bin', 'rb').read()))", session=s
    )
    assert r.stdout == "hello 256\n"
    roomy.execute_code("open('made.txt', 'w').write('by code')", session=s)
    files = {f["path"]: f for f in roomy.list_files(session=s)}
    assert set(files) == {"data", "b.bin", "made.txt"} and files["data"]["type"] == "directory"
    assert [f["path"] for f in roomy.list_files("data", session=s)] == ["data/a.txt"]
    read = roomy.read_files(["made.txt", "b.bin"], session=s)
    assert read[0]["text"] == "by code" and base64.b64decode(read[1]["blob"]) == bytes(range(256))
    assert roomy.remove_files(["data", "made.txt"], session=s) == ["data", "made.txt"]
    assert [f["path"] for f in roomy.list_files(session=s)] == ["b.bin"]
    owner = (roomy.session(s).workdir / "b.bin").stat().st_uid
    assert owner == roomy.session(s).uid  # the sandbox's user owns what the host wrote for it


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda it: it.write_files([{"path": "../x", "text": "x"}], session="bad"), "may not contain '..'"),
        (
            lambda it: it.write_files([{"path": "/etc/x", "text": "x"}], session="bad"),
            "outside the work directory",
        ),
        (lambda it: it.write_files([{"path": "x"}], session="bad"), "exactly one of 'text' or 'blob'"),
        (
            lambda it: it.write_files([{"path": "x", "blob": "not base64!"}], session="bad"),
            "not valid base64",
        ),
        (lambda it: it.write_files([], session="bad"), "non-empty list"),
        (lambda it: it.read_files(["missing.txt"], session="bad"), "no file 'missing.txt'"),
        (lambda it: it.read_files([""], session="bad"), "non-empty string"),
        (lambda it: it.remove_files(["nope"], session="bad"), "no file 'nope'"),
        (lambda it: it.list_files("nodir", session="bad"), "is not a directory"),
    ],
)
def test_bad_file_requests_get_one_line_errors(roomy, call, message):
    with pytest.raises(InterpreterError, match=message) as err:
        call(roomy)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- lifecycle


@pytest.mark.skipif(ROOTLESS, reason="root mode only: a uid per session")
def test_stop_reaps_every_process_and_deletes_the_files(roomy):
    s = "stop-me"
    roomy.execute_code("import subprocess\nsubprocess.Popen(['sleep', '60'])", session=s)
    roomy.execute_code("var t = setInterval(() => {}, 1000); 1", language="js", session=s)
    sess = roomy.session(s)
    uid, workdir = sess.uid, sess.workdir
    assert len(procs.uid_processes(uid)) >= 2  # the python and node interpreters are running
    assert roomy.stop_session(s) is True
    assert procs.uid_processes(uid) == []
    assert not workdir.exists()
    assert s not in roomy.sessions()
    assert roomy.stop_session(s) is False


def test_idle_sessions_expire(tmp_path):
    with Interpreter(tmp_path / "idle", idle_timeout=0.3) as it:
        it.execute_code("x = 1", session="sleepy")
        uid = it.session("sleepy").uid
        assert it.reap_idle(now=it.session("sleepy").last_used) == []  # just used (no clock race)
        wait_until(lambda: "sleepy" not in it.sessions(), "the background reaper stopped the idle session")
        if not ROOTLESS:  # rootless: the uid is the caller's
            # the reaper forgets the session, then stops it: its processes go a moment later
            wait_until(lambda: procs.uid_processes(uid) == [], f"the processes of uid {uid} are gone")
        fresh = it.execute_code("print('x' in globals())", session="sleepy")
        assert fresh.stdout == "False\n"  # a new session


@pytest.mark.skipif(ROOTLESS, reason="root mode only: a uid per session")
def test_sessions_get_distinct_unprivileged_uids(roomy):
    uids = {roomy.session(f"uid-{i}").uid for i in range(3)}
    assert len(uids) == 3 and all(u >= 100_000 for u in uids)


# ---------------------------------------------------------------- isolation modes


def test_without_bubblewrap_untrusted_code_is_refused(tmp_path, monkeypatch):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(SandboxUnavailableError) as err:
        Interpreter(tmp_path / "nobwrap")
    assert "bubblewrap (bwrap) is not installed" in str(err.value)
    assert "apt-get install -y bubblewrap" in str(err.value)
    with pytest.raises(SandboxUnavailableError):
        Interpreter(tmp_path / "nobwrap", bwrap=str(tmp_path / "not-there"))


def test_unsafe_local_runs_without_isolation_and_says_so_every_time(tmp_path):
    with Interpreter(tmp_path / "unsafe", unsafe_local=True) as it:
        results = [
            it.execute_code("import os\nprint(os.getuid())"),
            it.execute_code("1 + 1", language="js"),
            it.execute_command("echo hi"),
        ]
        for r in results:
            assert r.ok, r.error
            assert r.sandbox == "none (unsafe_local)"
            assert "WITHOUT a sandbox" in r.warning
        assert results[0].stdout == f"{os.getuid()}\n"  # really the host user


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "1", "language": "cobol"}, "unknown language 'cobol'"),
        ({"code": 42}, "code must be a string"),
        ({"code": "1", "session": "../etc"}, "invalid session name"),
        ({"code": "1", "timeout": 0}, "timeout must be a positive number"),
        ({"code": "1", "timeout": "soon"}, "timeout must be a positive number"),
        ({"code": "1", "limits": {"gpu": 1}}, "unknown limit"),
        ({"code": "1", "limits": {"memory_bytes": -5}}, "memory_bytes must be positive"),
        ({"code": "1", "allow_net": ["example.com"]}, "must look like HOST:PORT"),
        ({"code": "1", "allow_net": ["example.com:99999"]}, "must look like HOST:PORT"),
        ({"code": "1", "allow_net": ["10.0.0.1:80"]}, "give a host name, not an IP address"),
        ({"code": "1", "allow_net": ["bad host:80"]}, "not a valid host name"),
    ],
)
def test_bad_execute_code_input_gets_one_line_errors(roomy, kwargs, message):
    code = kwargs.pop("code")
    with pytest.raises(InterpreterError, match=message) as err:
        roomy.execute_code(code, **kwargs)
    assert "\n" not in str(err.value)


def test_bad_commands_are_refused(roomy):
    with pytest.raises(InterpreterError, match="non-empty string"):
        roomy.execute_command("   ")


# ---------------------------------------------------------------- events and spans


def test_each_execution_is_an_action_event_and_a_span(roomy):
    before = len(roomy.test_log.events())
    r = roomy.execute_code("print('traced')", session="traced")
    roomy.execute_code("1/0", session="traced")
    cmd = roomy.execute_command("echo hi", session="traced")
    events = [e for e in roomy.test_log.events()[before:] if e.type == "ActionEvent"]
    assert [e.action for e in events] == ["executeCode", "executeCode", "executeCommand"]
    ok, failed, command = events
    assert ok.status == "succeeded" and ok.output["stdout"] == "traced\n"
    assert ok.input == {
        "language": "python",
        "code": "print('traced')",
        "session": "traced",
        "clear_context": False,
    }
    assert ok.attributes["gen_ai.tool.name"] == "code_interpreter"
    assert ok.attributes["cpu_ms"] == r.cpu_ms and ok.attributes["peak_memory_bytes"] == r.peak_memory_bytes
    assert failed.status == "failed" and failed.error == "ZeroDivisionError: division by zero"
    assert command.status == "succeeded" and cmd.ok
    spans = [s for s in roomy.test_spans.get_finished_spans() if s.name == "execute_tool code_interpreter"]
    by_span = {format(s.context.span_id, "016x"): s for s in spans}
    span = by_span[ok.span_id]
    assert span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert span.attributes["gen_ai.tool.name"] == "code_interpreter"
    assert span.attributes["gen_ai.conversation.id"] == "traced"
    assert span.attributes["agentcore.code.language"] == "python"
    assert by_span[failed.span_id].status.status_code.name == "ERROR"
    assert ok.trace_id == format(span.context.trace_id, "032x")


def test_the_project_service_is_an_interpreter_logging_to_the_project(tmp_path):
    from agentcore_nb.project import Project

    with Project(tmp_path / "proj") as project:
        it = project.services["interpreter"]
        assert isinstance(it, Interpreter)
        assert it.execute_code("print(6 * 7)").stdout == "42\n"
        project.event_log.flush()
        actions = [e for e in project.event_log.events() if e.type == "ActionEvent"]
        assert actions and actions[-1].action == "executeCode"
        root = it.root
    assert Path(root).is_relative_to(tmp_path / "proj")
