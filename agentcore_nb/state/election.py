"""Who owns a project's state: the process holding an exclusive ``flock`` on ``NAME.lock``.

The kernel drops the lock when its holder dies (SIGKILL included), so a dead owner never blocks a
successor, and a socket file found by a process that holds the lock is stale by definition.
The socket is bound under a temporary name, made owner-only, then renamed into place, so no other
user can ever connect to it; paths longer than ``sun_path`` allows go through ``/proc/self/fd``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import weakref
from pathlib import Path

_SUN_PATH_MAX = 100
#: What a forked child must not keep: with the lock it would block every successor after the
#: owner died, and a listener nobody accepts on would hang the clients that connect to it.
_held_locks: weakref.WeakSet[OwnerLock] = weakref.WeakSet()
_listeners: weakref.WeakSet[socket.socket] = weakref.WeakSet()


def _forget_in_child() -> None:
    for lock in list(_held_locks):
        with contextlib.suppress(OSError):
            os.close(lock.fd)  # closes the child's reference only: the parent keeps the lock
        lock.fd = -1
    for sock in list(_listeners):
        with contextlib.suppress(OSError):
            sock.close()


os.register_at_fork(after_in_child=_forget_in_child)


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".lock")


def socket_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".sock")


class OwnerLock:
    """An exclusive, non-blocking flock; released on :meth:`release` or when the process dies."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def try_acquire(cls, db_path: Path) -> OwnerLock | None:
        path = lock_path(db_path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except PermissionError:
            from ..errors import EventLogError

            raise EventLogError(
                f"the project {db_path.parent} belongs to another user (cannot open {path.name})",
                hint="run as the user who owns it, or set AGENTCORE_HOME to a directory of your own",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        lock = cls(fd, path)
        _held_locks.add(lock)
        return lock

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def _address(path: Path) -> tuple[str, int | None]:
    """A bindable/connectable name for ``path`` (via an O_PATH dir fd when it is too long)."""
    if len(str(path)) <= _SUN_PATH_MAX:
        return str(path), None
    dfd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{dfd}/{path.name}", dfd


def listen(db_path: Path) -> socket.socket:
    """Bind the owner's socket (replacing a stale one), mode 0600, never reachable by others."""
    final = socket_path(db_path)
    tmp = final.with_name(f".{final.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    addr, dfd = _address(tmp)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(addr)
        os.chmod(tmp, 0o600)
        sock.listen(64)
        os.replace(tmp, final)  # atomically replaces a stale socket of a dead owner
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        if dfd is not None:
            os.close(dfd)
    _listeners.add(sock)
    return sock


def connect(db_path: Path, timeout: float | None = None) -> socket.socket:
    addr, dfd = _address(socket_path(db_path))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(addr)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    finally:
        if dfd is not None:
            os.close(dfd)
    uid = peer_uid(sock)
    if uid != os.getuid():  # a socket planted by another user (a world-writable directory)
        sock.close()
        from ..errors import EventLogError

        raise EventLogError(
            f"the state socket of {db_path.parent} is served by another user (uid {uid}); not connecting",
            hint="use a project directory only you can write to",
        )
    return sock


def peer_uid(sock: socket.socket) -> int:
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])
