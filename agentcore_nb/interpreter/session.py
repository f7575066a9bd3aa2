"""A code interpreter session: one work directory, one unprivileged uid, and a persistent
interpreter per language (each in its own sandbox, sharing the work directory)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

from . import files, procs
from .kernel import Kernel, Outcome, signal_name
from .limits import CPU_TIME, FILE_SIZE, OUTPUT, WALL_TIME, InterpreterError, Limits
from .netrelay import NetRelay, RelayHandle, inside_address
from .pool import Place, Warm, make_place
from .process import Watch, kill, launch, limits_in_text, watch
from .result import UNSAFE_WARNING, ExecutionResult
from .rich import safe_results
from .sandbox import KERNEL_DIR, SANDBOX_KERNEL_DIR, Bubblewrap, python_runtime, update_hosts, write_etc
from .uids import UidLease

SESSION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def check_session_name(name: Any) -> str:
    if not isinstance(name, str) or not SESSION_NAME_RE.match(name):
        raise InterpreterError(
            f"invalid session name {name!r}", hint="use letters, digits, '_', '.' or '-' (at most 128)"
        )
    return name


class CodeSession:
    def __init__(
        self,
        name: str,
        base: Path,
        *,
        bwrap: Bubblewrap | None,
        limits: Limits,
        relay: NetRelay,
        warm: Warm | None = None,
    ) -> None:
        self.name = check_session_name(name)
        self.limits = limits
        self.relay = relay
        self.lock = threading.RLock()
        self.kernels: dict[str, Kernel] = {}
        self.last_used = time.monotonic()
        self.closed = False
        self._hosts: dict[str, str] = {}
        # a pre-warmed place with its interpreter becomes this session's, or a new place is made
        place = warm.place if warm is not None else make_place(base, name, bwrap)
        if warm is not None:
            self.kernels[warm.kernel.language] = warm.kernel
        self._place: Place | None = place
        self._lease: UidLease | None = place.lease
        self.dir = place.dir
        self.space = place.space

    @property
    def sandboxed(self) -> bool:
        return self.space.bwrap is not None

    @property
    def uid(self) -> int:
        return self.space.uid

    @property
    def workdir(self) -> Path:
        return self.space.workdir

    def _result(self, language: str) -> ExecutionResult:
        r = ExecutionResult(session_id=self.name, language=language)
        if self.space.bwrap is not None:
            r.sandbox = self.space.bwrap.mode
        else:
            r.sandbox, r.warning = "none (unsafe_local)", UNSAFE_WARNING
        return r

    # ------------------------------------------------------------------ network
    def _open_relay(self, ns_pid: int, allow_net: list[tuple[str, int]]) -> RelayHandle | None:
        if not allow_net:
            return None
        if not self.sandboxed:
            return None  # unsafe_local has the host's network anyway (and says so)
        targets = [(host, port, inside_address(host, self._hosts)) for host, port in allow_net]
        update_hosts(self.space.etcdir, {h: a for h, a in self._hosts.items()})
        return self.relay.open(ns_pid, targets, rootless=bool(self.space.bwrap and self.space.bwrap.rootless))

    # ------------------------------------------------------------------ code
    def execute_code(
        self,
        code: str,
        language: str,
        *,
        limits: Limits,
        clear_context: bool = False,
        allow_net: list[tuple[str, int]] | None = None,
    ) -> ExecutionResult:
        with self.lock:
            self._check_open()
            self.last_used = time.monotonic()
            kernel = self.kernels.get(language)
            if kernel is not None and clear_context:
                kernel.stop()
            if kernel is None:
                kernel = self.kernels[language] = Kernel(self.space, language, limits)
            note = self._heal()
            if not kernel.alive:
                if kernel.launched is not None:  # it was running: something outside ended it
                    ended = kernel.how_it_ended()
                    note = note or (
                        f"the {language} interpreter had ended ({ended}) since the last call, "
                        "killed from outside; it was restarted and its variables are lost"
                    )
                kernel.stop()
                kernel.limits = limits
                kernel.start()
            relay = self._open_relay(kernel.launched.init_pid, allow_net or []) if kernel.launched else None
            try:
                outcome = kernel.execute(code, limits, limits.wall_seconds)
            finally:
                if relay is not None:
                    relay.close()
            self.last_used = time.monotonic()
            result = self._code_result(language, outcome, limits)
            if note:
                result.restarted = True
                result.warning = f"{result.warning}; {note}" if result.warning else note
            return result

    def _code_result(self, language: str, out: Outcome, limits: Limits) -> ExecutionResult:
        r = self._result(language)
        r.stdout, r.stderr, r.truncated, r.reaped = out.stdout, out.stderr, out.truncated, out.reaped
        r.wall_ms, r.cpu_ms, r.peak_memory_bytes = out.wall_s * 1000, out.cpu_s * 1000, out.peak_bytes
        r.limits_hit = list(out.limits)
        reply = out.reply or {}
        r.results = safe_results(reply.get("results"))
        error = reply.get("error")
        if isinstance(error, dict):
            r.error = {k: str(error.get(k, "")) for k in ("name", "message", "traceback")}
        if out.died:
            r.restarted = True
            for name in _limits_of_death(out.exit_code, out.cpu_s, limits):
                if name not in r.limits_hit:
                    r.limits_hit.append(name)
            r.error = {
                "name": "InterpreterDied",
                "message": f"the {language} process ended ({signal_name(out.exit_code)}); "
                "the session's variables in it are lost",
                "traceback": "",
            }
        if r.limits_hit:
            first = next((x for x in r.limits_hit if x in (WALL_TIME, CPU_TIME, OUTPUT)), r.limits_hit[0])
            r.error = _limit_error(first, limits, r.error)
        r.exit_code = 1 if (r.error or r.limits_hit) else 0
        return r

    # ------------------------------------------------------------------ commands
    def execute_command(
        self, command: str, *, limits: Limits, allow_net: list[tuple[str, int]] | None = None
    ) -> ExecutionResult:
        """Run ``/bin/sh -c command`` in a fresh sandbox on the session's work directory."""
        with self.lock:
            self._check_open()
            self.last_used = time.monotonic()
            r = self._result("shell")
            note = self._heal()
            if note:
                r.warning = f"{r.warning}; {note}" if r.warning else note
            runtime = python_runtime(SANDBOX_KERNEL_DIR if self.sandboxed else str(KERNEL_DIR))
            report_r, report_w = os.pipe()
            try:
                if self.space.owner is not None:
                    os.fchown(report_w, self.space.owner, self.space.owner)
                argv = [runtime.argv[0], "-I", "-S", f"{runtime.argv[2].rsplit('/', 1)[0]}/runcmd.py"]
                launched = launch(
                    self.space,
                    [*argv, str(report_w), "/bin/sh", "-c", command],
                    limits=limits,
                    address_space=limits.memory_bytes,
                    cpu_seconds=limits.cpu_seconds,
                    binds=runtime.binds,
                    extra_fds=(report_w,),
                    block=bool(allow_net) and self.sandboxed,
                )
            except BaseException:
                os.close(report_r)
                raise
            finally:
                os.close(report_w)
            relay = None
            t0 = time.monotonic()
            w = Watch()
            try:
                if launched.block_w >= 0:
                    try:
                        relay = self._open_relay(launched.init_pid, allow_net or [])
                    finally:
                        os.write(launched.block_w, b"go")
                        os.close(launched.block_w)
                sampled = [0.0]

                def cpu_used() -> float:
                    root = launched.init_pid
                    used = sum(procs.cpu_seconds(p) for p in [root, *procs.descendants(root)])
                    sampled[0] = max(sampled[0], used)
                    return used

                watch(
                    popen=launched.popen,
                    watch_=w,
                    reply_fd=None,
                    deadline=t0 + limits.wall_seconds,
                    output_cap=limits.output_bytes,
                    cpu_used=cpu_used,
                    cpu_limit=limits.cpu_seconds + 0.25,  # RLIMIT_CPU normally fires first
                    interrupt=lambda: kill(launched.popen, launched.init_pid),
                    grace=0.0,
                )
                if not self.sandboxed:  # no PID namespace: end the command's process group
                    try:
                        os.killpg(launched.popen.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                _, status, usage = os.wait4(launched.popen.pid, 0)
                launched.popen.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                usage = None
            finally:
                if relay is not None:
                    relay.close()
                kill(launched.popen, launched.init_pid)
            r.wall_ms = (time.monotonic() - t0) * 1000
            report = _read_report(report_r)
            r.peak_memory_bytes = report.get("maxrss", 0)
            waited = usage.ru_utime + usage.ru_stime if usage is not None else 0.0
            r.cpu_ms = max(waited, sampled[0], report.get("cpu", 0.0)) * 1000
            r.stdout, r.stderr = w.stdout.decode("utf-8", "replace"), w.stderr.decode("utf-8", "replace")
            r.truncated = w.truncated
            r.limits_hit = list(w.limits)
            code = launched.popen.returncode
            if WALL_TIME not in r.limits_hit and OUTPUT not in r.limits_hit:
                for name in _limits_of_death(code, r.cpu_ms / 1000, limits) + limits_in_text(r.stderr):
                    if name not in r.limits_hit:
                        r.limits_hit.append(name)
            r.exit_code = code if code is None or code >= 0 else 128 - code
            if r.limits_hit:
                r.error = _limit_error(r.limits_hit[0], limits, None)
            self.last_used = time.monotonic()
            return r

    # ------------------------------------------------------------------ files
    def write_files(self, content: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not isinstance(content, list) or not content:
            raise InterpreterError("writeFiles needs a non-empty list of {path, text} or {path, blob}")
        prepared = []
        for item in content:
            if not isinstance(item, dict) or "path" not in item or ("text" in item) == ("blob" in item):
                raise InterpreterError(
                    f"each file needs 'path' and exactly one of 'text' or 'blob', got {item!r:.80}"
                )
            if "text" in item:
                if not isinstance(item["text"], str):
                    raise InterpreterError(f"file {item['path']!r}: 'text' must be a string")
                data = item["text"].encode("utf-8")
            else:
                try:
                    data = base64.b64decode(item["blob"], validate=True)
                except (binascii.Error, TypeError, ValueError):
                    raise InterpreterError(f"file {item['path']!r}: 'blob' is not valid base64") from None
            if len(data) > self.limits.file_size_bytes:
                raise InterpreterError(f"file {item['path']!r} is larger than the file size limit")
            files.split_path(item["path"])
            prepared.append((item["path"], data))
        with self.lock:
            self._check_open()
            self.last_used = time.monotonic()
            return [
                {"path": path, "size": files.write_file(self.workdir, path, data, owner=self.space.owner)}
                for path, data in prepared
            ]

    def read_files(self, paths: list[str]) -> list[dict[str, Any]]:
        paths = _path_list(paths, "readFiles")
        with self.lock:
            self._check_open()
            self.last_used = time.monotonic()
            return [files.content_of(p, files.read_file(self.workdir, p)) for p in paths]

    def list_files(self, path: str = ".") -> list[dict[str, Any]]:
        with self.lock:
            self._check_open()
            self.last_used = time.monotonic()
            return files.list_dir(self.workdir, path)

    def remove_files(self, paths: list[str]) -> list[str]:
        paths = _path_list(paths, "removeFiles")
        with self.lock:
            self._check_open()
            self.last_used = time.monotonic()
            for p in paths:
                files.remove(self.workdir, p)
            return paths

    # ------------------------------------------------------------------ lifecycle
    def _heal(self) -> str:
        """Make the work directory (and generated /etc) again if something outside removed them
        (a tmp cleaner, a person): the sandbox could not bind them. Returns a note, or ''."""
        if self.workdir.is_dir() and (not self.sandboxed or (self.space.etcdir / "hosts").is_file()):
            return ""
        for kernel in self.kernels.values():
            kernel.stop()  # their /workspace is the removed directory
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.space.owner is not None:
            os.chown(self.workdir, self.space.owner, self.space.owner)
        os.chmod(self.workdir, 0o700)
        if self.sandboxed:
            gid = self.uid if self.space.owner is not None else os.getgid()
            write_etc(self.space.etcdir, self.uid, self._hosts, gid=gid)
        return (
            f"the session's directory {self.dir} had been removed from outside; it was made again, "
            "empty, and the interpreters restarted (files and variables are lost)"
        )

    def _check_open(self) -> None:
        if self.closed:
            raise InterpreterError(f"session {self.name!r} was stopped", hint="start a new one")

    def stop(self) -> None:
        """Kill every process of the session (each sandbox, then anything left with its uid) and
        delete its files."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            for kernel in self.kernels.values():
                kernel.stop()
            self.kernels.clear()
            self._cleanup()  # root mode: kills anything left with the session's uid first

    def _cleanup(self) -> None:
        place, self._place = self._place, None
        if place is not None:
            place.destroy()


def _limit_error(limit: str, limits: Limits, original: dict[str, str] | None) -> dict[str, str]:
    """The error a result shows for ``limit``. Limits the host enforces (time, output) replace what
    the interrupted code raised; for the others the code's own error (MemoryError, ...) says more."""
    enforced = {
        WALL_TIME: ("TimeoutError", f"wall-clock limit of {limits.wall_seconds:g} s exceeded"),
        CPU_TIME: ("CPUTimeLimitExceeded", f"CPU time limit of {limits.cpu_seconds:g} s exceeded"),
        OUTPUT: (
            "OutputLimitExceeded",
            f"output limit of {limits.output_bytes} bytes exceeded; output truncated",
        ),
        FILE_SIZE: ("FileSizeLimitExceeded", f"file size limit of {limits.file_size_bytes} bytes exceeded"),
    }
    died = original is not None and original.get("name") == "InterpreterDied"
    if limit in enforced and (limit != FILE_SIZE or died or original is None):
        name, message = enforced[limit]
        if died and original is not None:
            message += f"; {original['message']}"
        return {"name": name, "message": message, "traceback": (original or {}).get("traceback", "")}
    if original is not None:
        return original
    return {"name": "LimitExceeded", "message": f"{limit} limit reached", "traceback": ""}


def _limits_of_death(code: int | None, cpu_s: float, limits: Limits) -> list[str]:
    if code is None:
        return []
    sig = -code if code < 0 else code - 128 if code > 128 else 0
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= limits.cpu_seconds):
        return [CPU_TIME]
    if sig == signal.SIGXFSZ:
        return [FILE_SIZE]
    return []


def _read_report(fd: int) -> dict[str, Any]:
    """What the in-sandbox wrapper reported (empty when it was killed before it could)."""
    try:
        os.set_blocking(fd, False)
        data = os.read(fd, 4096)
        report = json.loads(data) if data else {}
        if not isinstance(report, dict):
            return {}
        return {
            k: v
            for k, v in report.items()
            if k in ("maxrss", "cpu") and isinstance(v, (int, float)) and v >= 0
        }
    except (OSError, ValueError):
        return {}
    finally:
        os.close(fd)


def _path_list(paths: Any, what: str) -> list[str]:
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths:
        raise InterpreterError(f"{what} needs a non-empty list of paths")
    for p in paths:
        files.split_path(p)
    return paths
