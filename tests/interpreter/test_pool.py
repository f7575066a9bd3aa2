"""The pre-warmed pool: new sessions take a ready sandbox, never a used one; dead ones are dropped."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from agentcore_nb.interpreter import Interpreter, InterpreterError, procs

from .conftest import SMALL


@pytest.fixture
def pooled(tmp_path):
    with Interpreter(tmp_path / "i", limits=SMALL, pool={"python": 1, "js": 1}) as it:
        assert it._pool is not None and it._pool.wait_ready("python") and it._pool.wait_ready("javascript")
        yield it


def waiting(it: Interpreter, lang: str):
    return list(it._pool.ready[lang])


def test_a_new_session_takes_a_ready_sandbox_and_the_pool_fills_again(pooled):
    (entry,) = waiting(pooled, "python")
    r = pooled.execute_code("x = 6 * 7\nx", session="s1")
    assert r.ok and r.results[0]["data"]["text/plain"] == "42"
    sess = pooled.session("s1")
    assert sess.kernels["python"] is entry.kernel and sess.dir == entry.place.dir  # it was the pool's
    assert pooled._pool.wait_ready("python")  # and another one is made in the background
    assert waiting(pooled, "python")[0] is not entry
    js = pooled.execute_code("[1, 2].length", language="js", session="s2")
    assert js.ok and js.results[0]["data"]["text/plain"] == "2"
    assert pooled._pool.stats["taken"] == 2


def test_a_used_sandbox_is_destroyed_never_handed_out_again(pooled):
    a = pooled.execute_code(
        "secret = 'A-secret'\nopen('a.txt', 'w').write(secret)\nimport os\nos.getpid()", session="A"
    )
    assert a.ok
    a_sess = pooled.session("A")
    a_kernel, a_dir = a_sess.kernels["python"], a_sess.dir
    a_init = a_kernel.launched.init_pid
    pooled.stop_session("A")
    assert procs.wait_gone(a_init, 10) and not a_dir.exists()
    assert pooled._pool.wait_ready("python")
    b = pooled.execute_code("import os\nprint(globals().get('secret'), os.listdir('.'))", session="B")
    assert b.stdout == "None []\n", b.stdout
    b_sess = pooled.session("B")
    assert b_sess.kernels["python"] is not a_kernel and b_sess.dir != a_dir
    for waiting_entry in waiting(pooled, "python"):
        assert waiting_entry.kernel is not a_kernel


def test_a_pool_sandbox_that_died_while_waiting_is_dropped_and_the_session_still_starts(pooled, caplog):
    (entry,) = waiting(pooled, "python")
    init = entry.kernel.launched.init_pid
    os.kill(init, signal.SIGKILL)  # killed from outside while it waited
    assert procs.wait_gone(init, 10)
    with caplog.at_level(logging.WARNING, logger="agentcore_nb.interpreter.pool"):
        r = pooled.execute_code("print('fresh')", session="after-death")
    assert r.ok and r.stdout == "fresh\n" and not r.restarted
    assert pooled._pool.stats["died"] == 1
    (line,) = [rec.getMessage() for rec in caplog.records]
    assert "had ended (SIGKILL)" in line and "fresh one" in line and "\n" not in line
    assert not entry.place.dir.exists()  # destroyed
    assert pooled._pool.wait_ready("python")  # and the pool fills again
    assert pooled.execute_code("1", session="next").ok


def test_other_start_limits_start_a_fresh_sandbox(pooled):
    r = pooled.execute_code("1 + 1", session="big", limits={"memory_bytes": 2 * SMALL.memory_bytes})
    assert r.ok
    assert pooled._pool.stats["taken"] == 0  # the waiting one has the pool's memory limit
    assert not pooled.session("big").dir.name.startswith("pool-")


@pytest.mark.parametrize("bad", [-1, {"python": -2}, {"cobol": 1}, "many"])
def test_bad_pool_sizes_are_one_line(tmp_path, bad):
    with pytest.raises(InterpreterError) as err:
        Interpreter(tmp_path / "i", pool=bad)
    assert "\n" not in str(err.value)


def test_closing_destroys_the_waiting_sandboxes(tmp_path):
    it = Interpreter(tmp_path / "i", limits=SMALL, pool={"python": 2})
    assert it._pool.wait_ready("python", 2)
    entries = waiting(it, "python")
    inits = [entry.kernel.launched.init_pid for entry in entries]
    it.close()
    for entry, init in zip(entries, inits):
        assert procs.wait_gone(init, 10)
        assert not entry.place.dir.exists() and entry.kernel.launched is None


def test_the_project_pool_comes_from_the_environment():
    from agentcore_nb.interpreter.pool import pool_from_env

    assert pool_from_env({}) is False and pool_from_env({"AGENTCORE_INTERPRETER_POOL": "off"}) is False
    assert pool_from_env({"AGENTCORE_INTERPRETER_POOL": "on"}) is True
    assert pool_from_env({"AGENTCORE_INTERPRETER_POOL": "python=2, r=1"}) == {"python": 2, "r": 1}
    with pytest.raises(InterpreterError, match="AGENTCORE_INTERPRETER_POOL") as err:
        pool_from_env({"AGENTCORE_INTERPRETER_POOL": "lots"})
    assert "\n" not in str(err.value)
