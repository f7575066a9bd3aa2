"""A persistent interpreter process of one language in a session's sandbox, and one execution in it."""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, field
from typing import Any

from . import procs
from .limits import OUTPUT, PROCESSES, InterpreterError, Limits
from .process import (
    START_TIMEOUT,
    Launched,
    Space,
    Watch,
    kill,
    launch,
    limits_in_text,
    sandbox_failure,
    watch,
)
from .sandbox import address_space, runtime_for

#: RLIMIT_CPU of a persistent interpreter: a backstop for the whole session. Each execution's CPU
#: limit is enforced from the host (interrupt, then kill), which code inside cannot raise.
SESSION_CPU_SECONDS = 3600.0


@dataclass
class Outcome:
    """One execution as the host saw it."""

    stdout: str = ""
    stderr: str = ""
    reply: dict[str, Any] | None = None
    limits: list[str] = field(default_factory=list)
    truncated: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_bytes: int = 0
    exit_code: int | None = None
    died: bool = False
    reaped: int = 0


def signal_name(code: int | None) -> str:
    if code is None:
        return "unknown"
    sig = -code if code < 0 else code - 128 if code > 128 else 0
    if sig > 0:
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"signal {sig}"
    return f"exit status {code}"


class Kernel:
    def __init__(self, space: Space, language: str, limits: Limits) -> None:
        self.space = space
        self.language = language
        self.limits = limits
        self.launched: Launched | None = None
        self.pid = 0
        self._req_w = -1
        self._rep_r = -1
        self.version = ""
        self._seq = 0

    @property
    def alive(self) -> bool:
        # bwrap's outer process outlives the sandbox's pid 1 for a moment: look at both
        launched = self.launched
        return (
            launched is not None
            and launched.popen.poll() is None
            and (launched.init_pid == launched.popen.pid or not procs.is_zombie(launched.init_pid))
        )

    def how_it_ended(self) -> str:
        """How a dead interpreter ended (``SIGKILL``, ``exit status 1``), once bwrap has told."""
        if self.launched is None:
            return "unknown"
        try:
            code = self.launched.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "unknown"
        return signal_name(code)

    def start(self) -> None:
        runtime = runtime_for(self.language, self.limits, sandboxed=self.space.bwrap is not None)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        owner = self.space.owner
        if owner is not None:  # R reopens its pipes through /dev/fd, which checks the pipe's owner
            for fd in (req_r, rep_w):
                os.fchown(fd, owner, owner)
        try:
            launched = launch(
                self.space,
                [*runtime.argv, str(req_r), str(rep_w)],
                limits=self.limits,
                address_space=address_space(self.language, self.limits),
                cpu_seconds=max(SESSION_CPU_SECONDS, self.limits.cpu_seconds * 10),
                binds=runtime.binds,
                extra_fds=(req_r, rep_w),
                reaps=self.language == "python",  # pykernel.py collects its zombies itself
            )
        except BaseException:
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            raise
        os.close(req_r)
        os.close(rep_w)
        self.launched, self._req_w, self._rep_r = launched, req_w, rep_r
        ready = self._await_ready()
        self.version = str(ready.get("version", ""))
        if self.space.bwrap is None:
            self.pid = launched.popen.pid
        elif self.space.bwrap.rootless and self.language == "python":
            self.pid = launched.init_pid  # it is the sandbox's pid 1 itself
        else:
            kids = procs.children(launched.init_pid)
            if len(kids) != 1:
                self.stop()
                raise InterpreterError(f"the {self.language} sandbox did not start cleanly")
            self.pid = kids[0]

    def _await_ready(self) -> dict[str, Any]:
        assert self.launched is not None
        w = Watch()
        reply = watch(
            popen=self.launched.popen,
            watch_=w,
            reply_fd=self._rep_r,
            deadline=time.monotonic() + START_TIMEOUT,
            output_cap=1 << 16,
            cpu_used=None,
            cpu_limit=0,
            interrupt=self.kill,
            grace=0,
        )
        if reply is None or not reply.get("ready"):
            text = (bytes(w.stderr) or bytes(w.stdout)).decode("utf-8", "replace").strip()
            detail = text.splitlines()
            self.stop()
            failure = sandbox_failure(text)
            if failure is not None:
                raise failure
            raise InterpreterError(
                f"the {self.language} interpreter did not start"
                + (": " + " | ".join(detail[-5:]) if detail else "")
            )
        return reply

    def interrupt(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        if self.launched is not None:
            kill(self.launched.popen, self.launched.init_pid)

    def stop(self) -> None:
        """Kill the interpreter and everything it started (the whole PID namespace goes with it)."""
        launched, self.launched = self.launched, None
        if launched is not None:
            if self.space.bwrap is None:
                procs.kill_all(procs.descendants(launched.popen.pid))
            kill(launched.popen, launched.init_pid)
        for fd in (self._req_w, self._rep_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._req_w = self._rep_r = -1
        self.pid = 0

    def _send(self, op: bytes, payload: bytes, seq: int, w: Watch, deadline: float, cap: int) -> bool:
        """Write a request without ever blocking: while the pipe is full (the interpreter may itself
        be blocked writing output), read its output. False if it took past ``deadline``."""
        assert self.launched is not None
        data = memoryview(op + b"%012d%012d" % (len(payload), seq) + payload)
        os.set_blocking(self._req_w, False)
        outs = {
            stream.fileno(): buf
            for stream, buf in (
                (self.launched.popen.stdout, w.stdout),
                (self.launched.popen.stderr, w.stderr),
            )
            if stream is not None
        }
        while data:
            try:
                data = data[os.write(self._req_w, data) :]
                continue
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                return False
            sel = selectors.DefaultSelector()
            sel.register(self._req_w, selectors.EVENT_WRITE)
            for fd in outs:
                sel.register(fd, selectors.EVENT_READ)
            for key, _ in sel.select(timeout=0.05):
                if key.fd in outs:
                    os.set_blocking(key.fd, False)
                    try:
                        chunk = os.read(key.fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    room = cap - len(w.stdout) - len(w.stderr)
                    outs[key.fd].extend(chunk[: max(0, room)])
                    w.truncated = w.truncated or len(chunk) > room
            sel.close()
        return True

    def execute(self, code: str, limits: Limits, timeout: float) -> Outcome:
        if not self.alive:
            self.stop()
            self.start()
        assert self.launched is not None
        self.limits = limits
        popen = self.launched.popen
        procs.reset_peak_rss(self.pid)
        cpu0 = procs.cpu_seconds(self.pid)
        t0 = time.monotonic()
        w = Watch()
        self._seq += 1
        try:
            sent = self._send(
                b"EXEC",
                code.encode("utf-8", "surrogatepass"),
                self._seq,
                w,
                t0 + timeout,
                limits.output_bytes,
            )
        except OSError:
            sent = False
        if not sent:
            w.exited = True
            reply = None
        else:
            pid = self.pid
            reply = watch(
                popen=popen,
                watch_=w,
                reply_fd=self._rep_r,
                deadline=t0 + timeout,
                output_cap=limits.output_bytes,
                cpu_used=lambda: procs.cpu_seconds(pid) - cpu0,
                cpu_limit=limits.cpu_seconds,
                interrupt=self._interrupt_unless_replied,
                seq=self._seq,
            )
        out = Outcome(wall_s=time.monotonic() - t0, reply=reply, truncated=w.truncated)
        out.limits = list(w.limits)
        if reply is None:
            out.died = True
            out.cpu_s = procs.cpu_seconds(self.pid) - cpu0 if self.pid else 0.0
            self.kill()
            out.exit_code = popen.returncode
        else:
            self._note_processes(out, limits)
            out.reaped = self._reap_leftovers()
            out.cpu_s = max(0.0, procs.cpu_seconds(self.pid) - cpu0)
            out.peak_bytes = procs.peak_rss_bytes(self.pid)
        out.stdout = w.stdout.decode("utf-8", "replace")
        out.stderr = w.stderr.decode("utf-8", "replace")
        error = (reply or {}).get("error") or {}
        for name in limits_in_text(f"{error.get('name', '')}: {error.get('message', '')}\n{out.stderr}"):
            if name not in out.limits:
                out.limits.append(name)
        if OUTPUT in out.limits:
            out.truncated = True
        if out.died:
            self.stop()
        return out

    def _interrupt_unless_replied(self) -> bool:
        """Interrupt the running execution. False while the interpreter has not taken the whole
        request from its pipe (on a busy machine it may not have been scheduled yet): it would drop
        an interrupt that came before it started, so the caller tries again. A reply already
        waiting means the execution is over: no interrupt, which would hit the *next* one."""
        sel = selectors.DefaultSelector()
        sel.register(self._rep_r, selectors.EVENT_READ)
        pending = bool(sel.select(timeout=0))
        sel.close()
        if pending:
            return True
        try:
            unread = struct.unpack("i", fcntl.ioctl(self._req_w, termios.FIONREAD, b"\0" * 4))[0]
        except OSError:
            unread = 0
        if unread > 0:
            return False
        self.interrupt()
        return True

    def _note_processes(self, out: Outcome, limits: Limits) -> None:
        """Flag the process limit when the session's tasks reached it."""
        if self.space.bwrap is None or self.launched is None:
            return
        pids = procs.descendants(self.launched.init_pid)
        if self.pid == self.launched.init_pid:
            pids.append(self.pid)
        tasks = sum(procs.thread_count(p) for p in pids)
        if tasks >= limits.processes - 1 and PROCESSES not in out.limits:
            out.limits.append(PROCESSES)

    def _reap_leftovers(self) -> int:
        """Kill every process the execution left behind; returns how many there were."""
        if self.launched is None:
            return 0
        root = self.launched.init_pid if self.space.bwrap is not None else self.pid
        reaped: set[int] = set()
        for _ in range(50):
            extra = [p for p in procs.descendants(root) if p != self.pid and not procs.is_zombie(p)]
            if not extra:
                return len(reaped)
            reaped.update(extra)
            procs.kill_all(extra, signal.SIGSTOP)
            procs.kill_all(extra)
            time.sleep(0.001)
        # something in the interpreter keeps starting processes: end the interpreter too
        self.stop()
        return len(reaped)
