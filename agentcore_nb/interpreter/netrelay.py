"""Network access to permitted ``host:port`` pairs only, relayed by the host.

A sandbox has its own network namespace with nothing but loopback. For each permitted pair the
host opens a listening socket *inside* that namespace (a host thread enters it with ``setns``,
binds, and leaves), on the loopback address the sandbox's /etc/hosts gives the name (or on the
127.x address itself). Whatever connects there is piped by the host to that one ``host:port`` and
nowhere else; the sandbox never holds a socket of the host's network. The listeners live for one
execution and are closed, with every relayed connection, when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import threading
from dataclasses import dataclass, field

from .limits import InterpreterError

CLONE_NEWNET = 0x40000000
MAX_CONNECTIONS = 32
_libc = ctypes.CDLL(None, use_errno=True)


#: Run by a fresh single-threaded process (a threaded one may not change its user namespace):
#: join the user namespace owning the sandbox's network namespace, then that network namespace,
#: listen there and hand the socket back over a unix socket.
_NS_HELPER = """
import ctypes, os, socket, sys
pid, addr, port, back = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
libc = ctypes.CDLL(None, use_errno=True)
net = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
user = libc.ioctl(net, 0xB701)  # NS_GET_USERNS: the user namespace that owns it
if user < 0 or libc.setns(user, 0x10000000) != 0 or libc.setns(net, 0x40000000) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((addr, port))
sock.listen(16)
socket.send_fds(socket.socket(fileno=back), [b"ok"], [sock.fileno()])
"""


def _listen_in_user_namespace(ns_pid: int, addr: str, port: int) -> socket.socket:
    """Rootless: the same listening socket, made by a helper process (the host has no capability
    of its own to enter the sandbox's network namespace, only through the sandbox's user namespace)."""
    import subprocess
    import sys

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _NS_HELPER,
                str(ns_pid),
                addr,
                str(port),
                str(theirs.fileno()),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
        )
        theirs.close()
        if done.returncode != 0:
            detail = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"])[-1]
            raise InterpreterError(f"cannot open the relay for {addr}:{port} in the sandbox: {detail}")
        mine.settimeout(10)
        _, fds, _, _ = socket.recv_fds(mine, 16, 1)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"cannot open the relay for {addr}:{port} in the sandbox: {exc}") from None
    finally:
        theirs.close()
        mine.close()
    if not fds:
        raise InterpreterError(f"cannot open the relay for {addr}:{port} in the sandbox")
    sock = socket.socket(fileno=fds[0])
    sock.setblocking(False)
    return sock


def _listen_in_namespace(ns_pid: int, addr: str, port: int) -> socket.socket:
    """A listening TCP socket in the network namespace of ``ns_pid`` (made in a throwaway thread)."""
    box: dict[str, object] = {}

    def make() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/proc/{ns_pid}/ns/net", os.O_RDONLY)
        except OSError as exc:
            os.close(own)
            box["error"] = exc
            return
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((addr, port))
                sock.listen(16)
                sock.setblocking(False)
                box["sock"] = sock
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:  # pragma: no cover - would be a kernel bug
                    os._exit(70)
        except OSError as exc:
            box["error"] = exc
        finally:
            os.close(target)
            os.close(own)

    thread = threading.Thread(target=make, name="agentcore-netns")
    thread.start()
    thread.join()
    if "error" in box:
        raise InterpreterError(f"cannot open the relay for {addr}:{port} in the sandbox: {box['error']}")
    return box["sock"]  # type: ignore[return-value]


@dataclass
class RelayHandle:
    relay: NetRelay
    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    connections: int = 0

    def close(self) -> None:
        self.relay._close(self)


class NetRelay:
    """One asyncio loop thread (started on first use) serving every session's relays."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="agentcore-netrelay", daemon=True).start()
                self._loop = loop
            return self._loop

    def open(
        self, ns_pid: int, targets: list[tuple[str, int, str]], *, rootless: bool = False
    ) -> RelayHandle:
        """Relay ``inside_addr:port`` in the sandbox of ``ns_pid`` to ``host:port`` for each target."""
        loop = self._ensure_loop()
        handle = RelayHandle(self)
        listen = _listen_in_user_namespace if rootless else _listen_in_namespace
        try:
            for host, port, inside in targets:
                sock = listen(ns_pid, inside, port)
                future = asyncio.run_coroutine_threadsafe(self._serve(handle, sock, host, port), loop)
                handle.servers.append(future.result(timeout=10))
        except BaseException:
            handle.close()
            raise
        return handle

    async def _serve(
        self, handle: RelayHandle, sock: socket.socket, host: str, port: int
    ) -> asyncio.AbstractServer:
        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if handle.connections >= MAX_CONNECTIONS:
                writer.close()
                return
            handle.connections += 1
            handle.writers.add(writer)
            try:
                up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            except (TimeoutError, OSError):
                writer.close()
                handle.writers.discard(writer)
                return
            handle.writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
            for w in (writer, up_writer):
                handle.writers.discard(w)

        return await asyncio.start_server(on_client, sock=sock)

    def _close(self, handle: RelayHandle) -> None:
        if self._loop is None:
            return

        async def shut() -> None:
            for server in handle.servers:
                server.close()
            for writer in list(handle.writers):
                writer.close()
            handle.servers.clear()
            handle.writers.clear()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=5)

    def close(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def inside_address(host: str, taken: dict[str, str]) -> str:
    """The loopback address a permitted host has inside the sandbox (127.x stays itself)."""
    if host == "localhost":
        return "127.0.0.1"
    if host.startswith("127.") and host.replace(".", "").isdigit():
        return host
    if host not in taken:
        n = len(taken) + 1
        taken[host] = f"127.77.{n // 250}.{n % 250 + 2}"
    return taken[host]
