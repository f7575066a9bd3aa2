"""Files in a session's work directory, reached from the host without following anything the
sandboxed code may have planted: every path component is opened with O_NOFOLLOW relative to its
parent directory, and only regular files and directories are touched (a symlink to /etc/shadow,
a FIFO or a ``..`` is refused, never followed)."""

from __future__ import annotations

import base64
import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .limits import InterpreterError

MAX_READ_BYTES = 16 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def split_path(path: Any) -> list[str]:
    """Components of a path relative to the work dir (``/workspace/x`` and ``x`` are the same)."""
    if not isinstance(path, str) or not path.strip():
        raise InterpreterError(f"file path must be a non-empty string, got {path!r}")
    if "\x00" in path:
        raise InterpreterError(f"file path {path!r} contains a NUL byte")
    p = PurePosixPath(path)
    if p.is_absolute():
        try:
            p = p.relative_to("/workspace")
        except ValueError:
            raise InterpreterError(
                f"file path {path!r} is outside the work directory", hint="use a path relative to /workspace"
            ) from None
    parts = [part for part in p.parts if part not in ("", ".")]
    if ".." in parts:
        raise InterpreterError(
            f"file path {path!r} may not contain '..'", hint="paths stay inside the work directory"
        )
    return parts


@contextlib.contextmanager
def _open_dir(
    root: Path, parts: list[str], *, create: bool = False, owner: int | None = None
) -> Iterator[int]:
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    if owner is not None:
                        os.chown(part, owner, owner, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise InterpreterError(
                    f"'{part}' is not a directory in the work directory ({exc.strerror})"
                ) from None
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def write_file(root: Path, path: str, data: bytes, *, owner: int | None) -> int:
    parts = split_path(path)
    with _open_dir(root, parts[:-1], create=True, owner=owner) as dfd:
        try:
            fd = os.open(
                parts[-1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                0o644, dir_fd=dfd,
            )  # fmt: skip
        except OSError as exc:
            raise InterpreterError(f"cannot write {path!r}: {exc.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InterpreterError(f"cannot write {path!r}: not a regular file")
            if owner is not None:
                os.fchown(fd, owner, owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    return len(data)


def read_file(root: Path, path: str) -> bytes:
    parts = split_path(path)
    with _open_dir(root, parts[:-1]) as dfd:
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
        except FileNotFoundError:
            raise InterpreterError(f"no file {path!r} in the work directory") from None
        except OSError as exc:
            raise InterpreterError(f"cannot read {path!r}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise InterpreterError(f"cannot read {path!r}: not a regular file")
            if st.st_size > MAX_READ_BYTES:
                raise InterpreterError(
                    f"cannot read {path!r}: {st.st_size} bytes is over the {MAX_READ_BYTES} byte limit"
                )
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)


def content_of(path: str, data: bytes) -> dict[str, Any]:
    """AgentCore's file content shape: ``text`` for UTF-8 text, ``blob`` (base64) for binary."""
    if b"\x00" not in data:
        try:
            return {"path": path, "size": len(data), "text": data.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"path": path, "size": len(data), "blob": base64.b64encode(data).decode("ascii")}


def list_dir(root: Path, path: str = ".") -> list[dict[str, Any]]:
    parts = [] if path in ("", ".", "/workspace") else split_path(path)
    with _open_dir(root, parts) as dfd:
        entries = []
        for name in sorted(os.listdir(dfd)):
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            kind = (
                "directory" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
            )
            rel = "/".join([*parts, name])
            entries.append({"path": rel, "name": name, "type": kind, "size": st.st_size})
        return entries


def remove(root: Path, path: str) -> None:
    parts = split_path(path)
    with _open_dir(root, parts[:-1]) as dfd:
        try:
            st = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            raise InterpreterError(f"no file {path!r} in the work directory") from None
        if stat.S_ISDIR(st.st_mode):
            _remove_tree(dfd, parts[-1])
        else:
            os.unlink(parts[-1], dir_fd=dfd)  # a symlink itself is removed, never its target


def _remove_tree(parent_fd: int, name: str) -> None:
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        for child in os.listdir(fd):
            st = os.stat(child, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                _remove_tree(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
