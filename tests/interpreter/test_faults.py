"""Faults from outside: a sandbox killed, its directory removed, a directory it cannot bind.
Each gives one line saying what happened and what to do, and the next call works."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from agentcore_nb.interpreter import Interpreter, InterpreterError, procs
from agentcore_nb.interpreter.kernel import Kernel
from agentcore_nb.interpreter.process import Space

from .conftest import SMALL


@pytest.fixture(scope="module")
def it(tmp_path_factory):
    with Interpreter(tmp_path_factory.mktemp("faults"), limits=SMALL) as interp:
        yield interp


@pytest.mark.parametrize("lang", ["python", "javascript", "r"])
def test_a_sandbox_killed_from_outside_is_named_and_the_next_call_works(it, lang):
    session = f"killed-{lang}"
    assign = {"python": "x = 41", "javascript": "var x = 41", "r": "x <- 41"}[lang]
    assert it.execute_code(assign, language=lang, session=session).ok
    kernel = it.session(session).kernels[lang]
    init = kernel.launched.init_pid
    os.kill(init, signal.SIGKILL)  # what an OOM killer or an operator does
    assert procs.wait_gone(init, 10)
    r = it.execute_code("1 + 1", language=lang, session=session)
    assert r.ok and "2" in r.stdout + str(r.results), r.error
    assert r.restarted
    assert "killed from outside" in r.warning and "variables are lost" in r.warning
    assert "\n" not in r.warning
    again = it.execute_code("2 + 2", language=lang, session=session)
    assert again.ok and not again.restarted and "4" in again.stdout + str(again.results)


def test_a_session_directory_removed_from_outside_is_made_again(it):
    assert it.execute_code("open('f.txt', 'w').write('x')", session="removed").ok
    shutil.rmtree(it.session("removed").dir)  # a tmp cleaner
    r = it.execute_code("import os\nprint(sorted(os.listdir('.')))", session="removed")
    assert r.ok and r.stdout == "[]\n", (r.stdout, r.error)
    assert r.restarted and "removed from outside" in r.warning and "\n" not in r.warning
    shell = it.execute_command("echo fine", session="removed")
    assert shell.stdout == "fine\n" and not shell.warning.count("removed")


def test_a_directory_the_sandbox_cannot_bind_is_one_line_with_what_to_do(it, tmp_path):
    sess = it.session("unbindable")
    space = Space(
        uid=sess.uid,
        workdir=tmp_path / "not-there",  # bwrap must bind it, and cannot
        etcdir=sess.space.etcdir,
        bwrap=sess.space.bwrap,
        owner=sess.space.owner,
    )
    with pytest.raises(InterpreterError) as err:
        Kernel(space, "python", SMALL).start()
    message = str(err.value)
    assert "cannot bind" in message and str(tmp_path / "not-there") in message
    assert "unsafe_local=True" in message and "AGENTCORE_HOME" in message
    assert "\n" not in message and "Traceback" not in message
    assert it.execute_code("print('next')", session="unbindable").stdout == "next\n"
    assert Path(sess.workdir).is_dir()


def test_an_interpreter_that_takes_its_request_late_is_still_interrupted(it):
    """A busy machine may not run the interpreter before the deadline passes. The interrupt must
    wait until it has taken the request (sent earlier, it was dropped as stale, the code ran on
    and was killed: the flaky timeout of test_executor). Simulated exactly: the interpreter is
    stopped until well after the deadline."""
    assert it.execute_code("x = 'kept'", session="late").ok
    kernel = it.session("late").kernels["python"]
    os.kill(kernel.pid, signal.SIGSTOP)  # not scheduled, as under heavy load
    resume = threading.Timer(1.5, os.kill, (kernel.pid, signal.SIGCONT))  # 1 s past the deadline
    resume.start()
    try:
        r = it.execute_code("import time\ntime.sleep(30)", session="late", timeout=0.5)
    finally:
        resume.join()
    assert r.limits_hit == ["wall_time"] and r.error["name"] == "TimeoutError"
    assert not r.restarted, r.error  # interrupted, not killed
    assert it.execute_code("print(x)", session="late").stdout == "kept\n"  # its variables live on
