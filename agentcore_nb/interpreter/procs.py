"""Reading and ending sandboxed processes from the host, through /proc (the kernel's view, which
code inside the sandbox cannot forge)."""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections.abc import Iterable

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rfind(")") + 2 :].split()
    # a process that is being reaped can give an empty read: that is "gone", not a crash
    return fields if ")" in raw and len(fields) >= 15 else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (all threads) and of its children it has waited for."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # fields[0] is the state (stat field 3): utime is field 14, stime 15, cutime 16, cstime 17
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICKS


def is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def peak_rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def reset_peak_rss(pid: int) -> None:
    """Restart the peak-RSS count of ``pid`` (``echo 5 > clear_refs``), so each execution has its own."""
    try:
        with open(f"/proc/{pid}/clear_refs", "wb") as f:
            f.write(b"5")
    except OSError:
        pass


def children(pid: int) -> list[int]:
    """Direct children of every thread of ``pid``."""
    found: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    stack = children(pid)
    seen: set[int] = set()
    while stack:
        child = stack.pop()
        if child in seen:
            continue
        seen.add(child)
        out.append(child)
        stack.extend(children(child))
    return out


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def kill_all(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    """Wait until ``pid`` (not necessarily our child) has exited. For a sandbox's pid 1 that means
    every process of its PID namespace is dead: the kernel kills them before pid 1 finishes."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        done = bool(sel.select(timeout))
        sel.close()
        return done
    finally:
        os.close(fd)


def uid_processes(uid: int) -> list[int]:
    """Every live process on the host whose real user is ``uid``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid and not is_zombie(int(entry.name)):
                            found.append(int(entry.name))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_uid(uid: int, rounds: int = 50) -> int:
    """SIGKILL every process of ``uid`` until none is left (a fork loop is outrun); returns the count."""
    killed = 0
    for _ in range(rounds):
        pids = uid_processes(uid)
        if not pids:
            return killed
        killed += len(pids)
        kill_all(pids, signal.SIGSTOP)  # freeze first, so nothing forks while we go round
        kill_all(pids)
        time.sleep(0.002)
    return killed
