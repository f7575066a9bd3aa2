"""One unprivileged user id per sandbox session, held with a lock file while the session lives.

A separate uid per session means the process limit (RLIMIT_NPROC counts a user's processes) is the
session's own, sessions cannot signal or read each other, and every process of a session can be
found and killed by its uid. Ids come from a high range no ordinary account uses.
"""

from __future__ import annotations

import fcntl
import os
import random
import stat
from pathlib import Path

from . import procs
from .limits import InterpreterError

UID_BASE = 610_000
UID_COUNT = 20_000
LOCK_DIR = Path("/tmp/.agentcore-sandbox-uids")


class UidLease:
    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def lease_uid() -> UidLease:
    """Reserve a uid no other live session (in any process) holds and no process runs as."""
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(LOCK_DIR)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise InterpreterError(
            f"{LOCK_DIR} is not a private directory of this user", hint="remove it; it is recreated"
        )
    start = random.randrange(UID_COUNT)
    for i in range(256):
        uid = UID_BASE + (start + i) % UID_COUNT
        fd = os.open(LOCK_DIR / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if procs.uid_processes(uid):  # a leftover from a crashed host: skip it
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise InterpreterError("no free sandbox user id", hint="too many sandbox sessions are open; stop some")
