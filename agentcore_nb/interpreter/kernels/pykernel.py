"""The Python kernel that runs *inside* the sandbox: one persistent interpreter per session.

Standalone on purpose (the sandbox cannot import agentcore_nb). The host sends framed requests on
fd IN and reads framed JSON replies on fd OUT; user code writes to fd 1/2, which the host reads.

Request:  4-byte op (``EXEC``) + 12 ASCII digits (payload length) + 12 digits (sequence number)
          + UTF-8 payload.
Reply:    12 ASCII digits (length) + JSON ``{"seq", "ok", "error", "results"}``.

The host enforces every limit from outside (it interrupts with SIGINT, then kills); nothing here
is trusted by the host.
"""

import ast
import base64
import builtins
import io
import json
import linecache
import os
import signal
import sys
import traceback

IN, OUT = int(sys.argv[1]), int(sys.argv[2])
MAX_TABLE_ROWS = 1000
MAX_HTML_ROWS = 60
MAX_REPR = 100_000
_HERE = os.path.abspath(__file__)

_results: list = []
_namespace: dict = {"__name__": "__main__", "__builtins__": builtins}


def _read_exact(n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(IN, n - got)
        if not chunk:
            return b""
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _send(obj: dict) -> None:
    body = json.dumps(obj, default=str).encode("utf-8", "replace")
    data = b"%012d" % len(body) + body
    view = memoryview(data)
    while view:
        view = view[os.write(OUT, view) :]


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the kernel
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "..."


def _png_of_figure(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bundle(value: object) -> dict:
    """A Jupyter-style mime bundle for ``value`` (tables and images get rich forms). The host keeps
    only inert forms (text, JSON, checked images, tables as data it renders itself)."""
    data: dict = {"text/plain": _safe_repr(value)}
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        head = frame.head(MAX_TABLE_ROWS)
        data["text/plain"] = frame.to_string(max_rows=MAX_HTML_ROWS)
        data["application/vnd.dataresource+json"] = json.loads(
            head.to_json(orient="table", date_format="iso", default_handler=str)
        )
        return {"data": data, "metadata": {"rows": len(frame), "truncated": len(frame) > MAX_TABLE_ROWS}}
    mpl_figure = sys.modules.get("matplotlib.figure")
    if mpl_figure is not None and isinstance(value, mpl_figure.Figure):
        data["image/png"] = _png_of_figure(value)
        return {"data": data, "metadata": {}}
    for method, mime in (
        ("_repr_html_", "text/html"),
        ("_repr_markdown_", "text/markdown"),
        ("_repr_svg_", "image/svg+xml"),
        ("_repr_png_", "image/png"),
        ("_repr_json_", "application/json"),
    ):
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                out = fn()
            except Exception:
                continue
            if out is None:
                continue
            if isinstance(out, bytes):
                out = base64.b64encode(out).decode("ascii")
            data[mime] = out
    return {"data": data, "metadata": {}}


def display(*objs: object) -> None:
    """Show rich output (tables, images) from the middle of the code, like Jupyter's display()."""
    for obj in objs:
        _results.append(_bundle(obj))


builtins.display = display  # type: ignore[attr-defined]


def _open_figures() -> list:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    out = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        out.append(
            {"data": {"image/png": _png_of_figure(fig), "text/plain": _safe_repr(fig)}, "metadata": {}}
        )
    plt.close("all")
    return out


def _error_of(exc: BaseException) -> dict:
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == _HERE:
        tb = tb.tb_next  # hide the kernel's own frames
    lines = traceback.format_exception(type(exc), exc, tb)
    return {"name": type(exc).__name__, "message": str(exc), "traceback": "".join(lines)}


def _execute(code: str, number: int) -> dict:
    filename = f"<exec-{number}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    _results.clear()
    error = None
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)  # type: ignore[attr-defined]
        exec(compile(tree, filename, "exec"), _namespace)
        if last is not None:
            value = eval(compile(last, filename, "eval"), _namespace)
            if value is not None:
                _namespace["_"] = value
                _results.append(_bundle(value))
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the kernel lives on
        error = _error_of(exc)
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        _results.extend(_open_figures())
    except Exception as exc:
        error = error or _error_of(exc)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return {"ok": error is None, "error": error, "results": list(_results)}


def _reap_zombies() -> None:
    """Children the host killed after the last execution are our zombies: collect them."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _forget_protocol() -> None:
    global IN, OUT
    for fd in (IN, OUT):
        try:
            os.close(fd)
        except OSError:
            pass
    IN = OUT = -1


def main() -> None:
    for fd in (IN, OUT):
        os.set_inheritable(fd, False)
    # a process the user's code forks must not speak for the kernel
    os.register_at_fork(after_in_child=_forget_protocol)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    _send({"ready": True, "language": "python", "version": sys.version.split()[0]})
    number = 0
    while True:
        header = _read_exact(28)
        if len(header) < 28:
            return
        op, size, seq = header[:4], int(header[4:16]), int(header[16:28])
        # An interrupt that arrived after the last reply must not hit this execution: drop it now,
        # before the payload is read. The host interrupts an execution only once its whole request
        # has left the pipe, so an interrupt for *this* execution always comes after this point.
        while signal.sigtimedwait({signal.SIGINT}, 0) is not None:
            pass
        payload = _read_exact(size).decode("utf-8", "replace") if size else ""
        _reap_zombies()
        if op == b"EXEC":
            number += 1
            reply = _execute(payload, number)
        else:
            reply = {"ok": True, "error": None, "results": []}
        reply["seq"] = seq
        _send(reply)


if __name__ == "__main__":
    main()
