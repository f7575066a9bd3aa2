"""The installed AgentCore kernel over the Jupyter protocol: spec-valid messages, magics, interrupt,
restart and shutdown."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

from .conftest import Kernel, cell_id
from .message_spec import validate_message


def test_kernelspec_is_installed_for_this_environment():
    spec = KernelSpecManager().get_kernel_spec("agentcore")
    assert spec.display_name == "AgentCore (Python 3)"
    assert spec.language == "python"
    assert spec.argv[1:] == ["-m", "agentcore_nb.notebook.kernel", "-f", "{connection_file}"]
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    assert spec.interrupt_mode == "signal"
    for logo in ("logo-32x32.png", "logo-64x64.png"):
        assert (Path(spec.resource_dir) / logo).is_file()


def test_kernel_info_reply_is_spec_valid(kernel: Kernel):
    kernel.client.kernel_info()
    reply = kernel.client.get_shell_msg(timeout=60)
    while reply["msg_type"] != "kernel_info_reply":
        reply = kernel.client.get_shell_msg(timeout=60)
    validate_message(reply)
    content = reply["content"]
    assert content["implementation"] == "agentcore"
    assert content["language_info"]["name"] == "python"
    assert "AgentCore (Python 3)" in content["banner"]


def test_every_message_of_typical_cells_is_spec_valid(kernel: Kernel):
    cells = [
        "x = 40 + 2",
        "print('hello'); x",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))",
        "import sys; print('oops', file=sys.stderr)",
        "1 / 0",
        "x = = 1",
        "%graph show --text",
        "%graph json",
        "%graph run --from nowhere",
        "%%node answer --retries 1\nanswer = x",
    ]
    counts = []
    for code in cells:
        result = kernel.run(code, cell_id=cell_id())
        validate_message(result.reply)
        assert result.reply["msg_type"] == "execute_reply"
        counts.append(result.reply["content"]["execution_count"])
        types = [m["header"]["msg_type"] for m in result.messages]
        assert types[0] == "status" and types[1] == "execute_input", types
        for msg in result.messages:
            validate_message(msg)
    assert counts == list(range(counts[0], counts[0] + len(cells)))  # each cell counts once


def test_cells_become_nodes_and_magics_answer(kernel: Kernel):
    kernel.ok("%graph reset")
    kernel.ok("base = 2", cell_id="k1")
    kernel.ok("square = base ** 2", cell_id="k2")
    text = kernel.ok("%graph show --text").stdout
    assert text.splitlines()[0] == "graph 'notebook': 2 nodes, 1 edge (2 fresh)"
    assert "cell_2  python  fresh    after cell_1; reads base; defines square" in text
    magics = kernel.ok("%agentcore").stdout
    assert "%graph" in magics and "%%node" in magics
    helped = kernel.ok("%graph --help").stdout
    assert helped.startswith("usage: %graph") and "run" in helped and "json" in helped
    helped = kernel.ok("%graph run --help").stdout
    assert "--from NODE" in helped and "--only NODE" in helped
    helped = kernel.ok("%%node --help\nx = 1").stdout
    assert helped.startswith("usage: %%node") and "--fallback OTHER" in helped
    spec = json.loads(kernel.ok("%graph json").stdout)
    assert spec["agentcore_graph"] == 1 and [n["name"] for n in spec["nodes"]] == ["cell_1", "cell_2"]


def test_interrupt_stops_a_running_cell_and_the_kernel_goes_on(kernel: Kernel):
    kernel.ok("%graph reset")
    # The cell sleeps far past every deadline of the test: only the interrupt can end it in time.
    msg_id = kernel.send("import time\nprint('sleeping', flush=True)\ntime.sleep(600)", cell_id="sleepy")
    deadline = time.monotonic() + 60
    while True:  # wait until the cell is really running
        assert time.monotonic() < deadline, "the cell never started"
        msg = kernel.client.get_iopub_msg(timeout=60)
        kernel.stray.append(msg)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["header"]["msg_type"] == "stream"
            and "sleeping" in msg["content"]["text"]  # the cell's own output, not a note about it
        ):
            break
    kernel.km.interrupt_kernel()
    result = kernel.collect(msg_id, timeout=120)
    kernel.stray.clear()
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "KeyboardInterrupt"
    assert kernel.ok("1 + 1").data[-1]["text/plain"] == "2"
    nodes = kernel.snapshot()["nodes"]
    states = {n["cell_id"]: n["state"] for n in nodes}  # by cell id: the order is not the point
    assert states.get("sleepy") == "failed", nodes


def test_restart_gives_an_empty_graph_and_shutdown_is_clean(module_home: str):
    k = Kernel("agentcore", module_home)
    try:
        k.ok("a = 1")
        assert len(k.graph()["nodes"]) == 1
        k.km.restart_kernel(now=True)
        k.client.wait_for_ready(timeout=60)
        assert k.value("'a' in globals()") is False
        assert k.graph()["nodes"] == []
        k.ok("b = 2")
        assert [n["name"] for n in k.graph()["nodes"]] == ["cell_1"]
        k.client.stop_channels()
        k.km.shutdown_kernel(now=False)
        assert not k.km.is_alive()
    finally:
        if k.km.has_kernel:
            k.km.shutdown_kernel(now=True)


def test_an_empty_flush_does_not_wait_for_the_iopub_thread_and_output_keeps_its_order(kernel: Kernel):
    kernel.ok(
        "import sys\n"
        "_pub = sys.stdout.pub_thread\n"
        "_scheduled = []\n"
        "_schedule = _pub.schedule\n"
        "_pub.schedule = lambda f: (_scheduled.append(f), _schedule(f))[1]"
    )
    try:
        # nothing written: no hand-over to the IOPub thread (ipykernel's flush would make two)
        kernel.ok("_scheduled.clear(); sys.stdout.flush(); sys.stderr.flush(); _n_empty = len(_scheduled)")
        assert kernel.value("_n_empty") == 0
        # something written: flushed through the IOPub thread as in ipykernel
        kernel.ok("_scheduled.clear(); print('x', end=''); sys.stdout.flush(); _n_full = len(_scheduled)")
        assert kernel.value("_n_full") >= 2
    finally:
        kernel.ok("_pub.schedule = _schedule")
    result = kernel.ok("print('out')\nprint('err', file=sys.stderr)\n41 + 1")
    types = [m["header"]["msg_type"] for m in result.messages]
    assert types.index("execute_result") > max(i for i, t in enumerate(types) if t == "stream")
    assert (result.stdout, result.stderr, result.data[-1]["text/plain"]) == ("out\n", "err\n", "42")
    assert kernel.value("type(sys.stdout).__module__") == "agentcore_nb.notebook.kernel.streams"


def test_signature_checks_are_cached_per_function_and_follow_a_replaced_method():
    from ipykernel import ipkernel

    from agentcore_nb.notebook.kernel import cache_signature_checks

    cache_signature_checks()
    cache_signature_checks()  # once is enough: not wrapped twice
    accepts = ipkernel._accepts_parameters
    assert getattr(accepts, "_agentcore_cached", False)

    class Shell:
        def run_cell_async(self, code, *, cell_id=None):
            return code

    shell = Shell()
    names = ["cell_id", "cell_meta"]
    assert accepts(shell.run_cell_async, names) == {"cell_id": True, "cell_meta": False}
    assert accepts(Shell().run_cell_async, names) == {"cell_id": True, "cell_meta": False}
    shell.run_cell_async = lambda code, **kwargs: code  # type: ignore[method-assign]
    assert accepts(shell.run_cell_async, names) == {"cell_id": True, "cell_meta": True}
    shell.run_cell_async = lambda code: code  # type: ignore[method-assign]
    assert accepts(shell.run_cell_async, names) == {"cell_id": False, "cell_meta": False}


def test_input_prompt_follows_the_cells_earlier_outputs(kernel: Kernel):
    """``input()`` after a display: the display is handed to IOPub before the prompt goes out on
    the stdin socket (the empty flushes before it no longer wait, the kernel does once)."""
    kernel.ok(
        "_sent = []\n"
        "_kernel = get_ipython().kernel\n"
        "_iopub = _kernel.iopub_thread.socket\n"
        "class _Socket:\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(_iopub, name)\n"
        "    def send_multipart(self, msg, *args, **kwargs):\n"
        "        sent = _iopub.send_multipart(msg, *args, **kwargs)\n"
        "        if any(isinstance(f, bytes) and b'display_data' in f for f in msg):\n"
        "            _sent.append('display_data')\n"
        "        return sent\n"
        "_kernel.iopub_thread.socket = _Socket()\n"
        "_send = _kernel.session.send\n"
        "def _traced(stream, msg_type, *args, **kwargs):\n"
        "    if msg_type == 'input_request':\n"
        "        _sent.append('input_request')\n"
        "    return _send(stream, msg_type, *args, **kwargs)\n"
        "_kernel.session.send = _traced"
    )
    try:
        msg_id = kernel.send(
            "from IPython.display import HTML, display\n_sent.clear()\ndisplay(HTML('<b>q</b>'))\nanswer = input('? ')",
            allow_stdin=True,
        )
        request = kernel.client.get_stdin_msg(timeout=60)
        assert request["header"]["msg_type"] == "input_request"
        kernel.client.input("42")
        result = kernel.collect(msg_id)
        assert result.status == "ok"
        assert kernel.value("answer") == "42"
        assert kernel.value("_sent") == ["display_data", "input_request"]
    finally:
        kernel.ok("_kernel.iopub_thread.socket = _iopub\n_kernel.session.send = _send")
