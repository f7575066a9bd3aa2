"""Starting sandboxed processes and watching them: output with a cap, wall and CPU time, death.

Every sandbox is started from one long-lived thread: ``bwrap --die-with-parent`` ties the sandbox
to the *thread* that started it, so a sandbox started from a short-lived worker thread would die
with that thread.
"""

from __future__ import annotations

import errno
import json
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import procs
from .limits import (
    CPU_TIME,
    FILE_SIZE,
    MEMORY,
    OPEN_FILES,
    OUTPUT,
    PROCESSES,
    InterpreterError,
    Limits,
)
from .sandbox import Bubblewrap, base_env, rlimit_args
from .seccomp import seccomp_fd

MAX_REPLY_BYTES = 64 << 20
START_TIMEOUT = 60.0
BIND_HINT = (
    "keep the interpreter's directory (AGENTCORE_HOME) and the Python environment on a local "
    "path this user can read (not a network home that refuses root, not removed by a cleaner), "
    "or pass unsafe_local=True to run without isolation, knowingly"
)
#: How long an interrupt that cannot be delivered yet (the request not taken) is retried.
UNDELIVERED_WAIT = 10.0

_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentcore-sandbox-spawner")

#: Text in an error or in stderr that tells which limit stopped the code.
LIMIT_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (MEMORY, ("MemoryError", "cannot allocate", "Array buffer allocation failed", "heap out of memory",
              "Allocation failed", "std::bad_alloc", "Cannot allocate memory", "ENOMEM")),
    (PROCESSES, ("Resource temporarily unavailable", "EAGAIN", "Cannot fork", "can't fork", "fork: retry")),
    (FILE_SIZE, ("File too large", "EFBIG")),
    (OPEN_FILES, ("Too many open files", "EMFILE")),
)  # fmt: skip


def limits_in_text(text: str) -> list[str]:
    return [name for name, needles in LIMIT_PATTERNS if any(n in text for n in needles)]


@dataclass
class Space:
    """Where a session's processes run: its uid, work dir, generated /etc, and how to isolate them."""

    uid: int
    workdir: Path
    etcdir: Path
    bwrap: Bubblewrap | None  # None: unsafe_local, no isolation
    #: Root mode: the session's own uid, which must own its files and pipes; else None (the
    #: caller's uid runs the code, and already owns them).
    owner: int | None = None


@dataclass
class Launched:
    popen: subprocess.Popen[bytes]
    #: Host pid of the sandbox's pid 1 (bwrap's init); the process itself when not sandboxed.
    init_pid: int
    block_w: int = -1


def launch(
    space: Space,
    argv: list[str],
    *,
    limits: Limits,
    address_space: int,
    cpu_seconds: float,
    binds: tuple[str, ...] = (),
    extra_fds: tuple[int, ...] = (),
    env: dict[str, str] | None = None,
    block: bool = False,
    reaps: bool = False,
) -> Launched:
    """Start ``argv`` in the session's sandbox (or plainly, for unsafe_local), stdout/stderr piped."""
    environment = base_env(env)
    if space.bwrap is None:
        environment["HOME"] = str(space.workdir)
        cmd = rlimit_args(_prlimit(), limits, address_space=address_space, cpu_seconds=cpu_seconds) + argv
        popen = _spawn(cmd, extra_fds, environment, cwd=str(space.workdir))
        return Launched(popen, popen.pid)
    info_r, info_w = os.pipe()
    sec = seccomp_fd()
    block_r, block_w = os.pipe() if block else (-1, -1)
    child_fds = (info_w, sec) + ((block_r,) if block else ())
    try:
        cmd = space.bwrap.command(
            uid=space.uid,
            workdir=space.workdir,
            etcdir=space.etcdir,
            limits=limits,
            argv=argv,
            binds=binds,
            address_space=address_space,
            cpu_seconds=cpu_seconds,
            info_fd=info_w,
            seccomp_fd=sec,
            block_fd=block_r if block else None,
            reaps=reaps,
        )
        popen = _spawn(cmd, extra_fds + child_fds, environment, cwd="/")
    except BaseException:
        for fd in (info_r, block_w, *child_fds):
            if fd >= 0:
                os.close(fd)
        raise
    for fd in child_fds:
        os.close(fd)
    try:
        init_pid = _read_info(info_r, popen)
    except BaseException:
        if block_w >= 0:
            os.close(block_w)
        kill(popen)
        raise
    return Launched(popen, init_pid, block_w)


def _prlimit() -> str:
    import shutil

    found = shutil.which("prlimit")
    if not found:
        raise InterpreterError(
            "prlimit (util-linux) is not installed", hint="sudo apt-get install -y util-linux"
        )
    return found


def _spawn(cmd: list[str], fds: tuple[int, ...], env: dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=fds,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    try:
        return _spawner.submit(start).result()
    except OSError as exc:
        raise InterpreterError(f"cannot start the sandbox: {exc.strerror} ({cmd[0]})") from None


def _read_info(info_r: int, popen: subprocess.Popen[bytes]) -> int:
    """bwrap's --info-fd JSON gives the host pid of the sandbox's pid 1."""
    data = b""
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            sel = selectors.DefaultSelector()
            sel.register(info_r, selectors.EVENT_READ)
            ready = sel.select(timeout=1.0)
            sel.close()
            if not ready:
                continue
            chunk = os.read(info_r, 4096)
            if not chunk:
                break
            data += chunk
            try:
                return int(json.loads(data)["child-pid"])
            except (ValueError, KeyError):
                continue
    finally:
        os.close(info_r)
    err = _read_available(popen.stderr.fileno()) if popen.stderr else b""
    first = err.decode("utf-8", "replace").strip().splitlines()[:1]
    failure = sandbox_failure(first[0] if first else "")
    if failure is not None:
        raise failure
    raise InterpreterError("the sandbox failed to start" + (f": {first[0]}" if first else ""))


def sandbox_failure(text: str) -> InterpreterError | None:
    """The one-line error for a bwrap message that says it could not set the sandbox up."""
    for line in text.splitlines():
        if re.match(r"bwrap: Can't (find source path|bind mount|mount|create file at)", line.strip()):
            return InterpreterError(
                f"the sandbox cannot bind a directory it needs ({line.strip().removeprefix('bwrap: ')})",
                hint=BIND_HINT,
            )
    return None


def _read_available(fd: int, limit: int = 1 << 16) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, limit)
    except OSError:
        return b""


def kill(popen: subprocess.Popen[bytes], init_pid: int = 0) -> None:
    """End a sandbox: killing bwrap's outer process makes pid 1 die, which ends every process in
    it. bwrap's outer process may exit before pid 1 is gone, so with ``init_pid`` this also kills
    pid 1 and waits until its namespace is empty."""
    if init_pid and init_pid != popen.pid:
        try:
            os.kill(init_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if popen.poll() is None:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            popen.kill()
        except ProcessLookupError:
            pass
    try:
        popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for stream in (popen.stdout, popen.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    if init_pid and init_pid != popen.pid:
        procs.wait_gone(init_pid)


@dataclass
class Watch:
    """What a watched run collected."""

    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    reply: bytearray = field(default_factory=bytearray)
    limits: list[str] = field(default_factory=list)
    truncated: bool = False
    exited: bool = False
    reply_closed: bool = False

    def hit(self, name: str) -> None:
        if name not in self.limits:
            self.limits.append(name)

    def reply_frame(self) -> dict[str, Any] | None:
        """The reply once complete; raises on a malformed or oversized one."""
        if len(self.reply) < 12:
            return None
        head = bytes(self.reply[:12])
        if not head.isdigit() or int(head) > MAX_REPLY_BYTES:
            raise ValueError("malformed reply from the interpreter")
        size = int(head)
        if len(self.reply) < 12 + size:
            return None
        value = json.loads(bytes(self.reply[12 : 12 + size]))
        if not isinstance(value, dict):
            raise ValueError("malformed reply from the interpreter")
        del self.reply[: 12 + size]
        return value


def watch(
    *,
    popen: subprocess.Popen[bytes],
    watch_: Watch,
    reply_fd: int | None,
    deadline: float,
    output_cap: int,
    cpu_used: Callable[[], float] | None,
    cpu_limit: float,
    interrupt: Callable[[], bool | None],
    grace: float = 1.0,
    wall_limit_name: str = "wall_time",
    seq: int | None = None,
) -> dict[str, Any] | None:
    """Collect output until a reply frame arrives (kernels) or the process exits (commands).

    On a limit the process is interrupted (``interrupt``), and killed ``grace`` seconds later if it
    did not answer. ``interrupt`` may return False: not delivered yet (the interpreter has not taken
    the request; an interrupt now would be lost), so it is tried again each tick, and the grace
    starts when it is delivered (at most ``UNDELIVERED_WAIT`` seconds later the process is killed
    anyway). Returns the reply, or None when the process ended or was killed without one.
    """
    sel = selectors.DefaultSelector()
    streams = {}
    for stream, buf in ((popen.stdout, watch_.stdout), (popen.stderr, watch_.stderr)):
        if stream is not None and not stream.closed:
            fd = stream.fileno()
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
            streams[fd] = buf
    if reply_fd is not None:
        os.set_blocking(reply_fd, False)
        sel.register(reply_fd, selectors.EVENT_READ)
    pidfd = os.pidfd_open(popen.pid)
    sel.register(pidfd, selectors.EVENT_READ)
    started = time.monotonic()
    kill_at: float | None = None
    undelivered = False  # an interrupt is owed but was not delivered yet
    reply: dict[str, Any] | None = None

    def stop(now: float) -> None:
        """Interrupt (again, while undelivered); the kill follows ``grace`` after delivery."""
        nonlocal kill_at, undelivered
        delivered = interrupt() is not False
        if delivered:
            kill_at = now + grace
        elif not undelivered:
            kill_at = now + grace + UNDELIVERED_WAIT
        undelivered = not delivered

    try:
        while True:
            now = time.monotonic()
            if kill_at is not None and now >= kill_at:
                kill(popen)
                watch_.exited = True
                break
            if undelivered:
                stop(now)
            if kill_at is None:
                reason = None
                if now >= deadline:
                    reason = wall_limit_name
                elif cpu_used is not None and now - started > 0.05 and cpu_used() > cpu_limit:
                    reason = CPU_TIME
                if reason:
                    watch_.hit(reason)
                    stop(now)
            wait = 0.05 if kill_at is None else max(0.0, min(0.05, kill_at - now))
            if kill_at is None:
                wait = max(0.0, min(wait, deadline - now))
            for key, _ in sel.select(timeout=wait):
                fd = key.fd
                if fd == pidfd:
                    sel.unregister(pidfd)
                    watch_.exited = True
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno != errno.EINTR:
                        chunk = b""
                    else:
                        continue
                if not chunk:
                    sel.unregister(fd)
                    if fd == reply_fd:
                        watch_.reply_closed = True
                    continue
                if fd == reply_fd:
                    watch_.reply.extend(chunk)
                    try:
                        while (frame := watch_.reply_frame()) is not None:
                            # a stale or forged frame (the code can write to the pipe) is dropped
                            if seq is None or frame.get("seq") == seq:
                                reply = frame
                                break
                    except ValueError:
                        kill(popen)
                        watch_.exited = True
                        break
                    continue
                room = output_cap - len(watch_.stdout) - len(watch_.stderr)
                if room > 0:
                    streams[fd].extend(chunk[:room])
                if len(chunk) > room:
                    watch_.truncated = True
                    if OUTPUT not in watch_.limits and kill_at is None:
                        watch_.hit(OUTPUT)
                        stop(time.monotonic())
            if reply is not None:
                break
            if reply_fd is not None and (watch_.reply_closed or watch_.exited):
                break
            if reply_fd is None and watch_.exited:
                break
        # what was written before the reply or the exit is in the pipes now: take it (bounded,
        # since a leftover child may still be writing; it is reaped next)
        for fd, buf in streams.items():
            budget = output_cap + (4 << 20)
            while budget > 0:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                budget -= len(chunk)
                room = output_cap - len(watch_.stdout) - len(watch_.stderr)
                if room > 0:
                    buf.extend(chunk[:room])
                if len(chunk) > room:
                    watch_.truncated = True
    finally:
        sel.close()
        os.close(pidfd)
    return reply
