"""Run a command as an unprivileged user from a root test process (CI runs as root).

The user is reused, or created (``useradd``) when missing. The command must reach this checkout and
this Python (the venv and the install it points to), wherever they live: a directory on their path
that other users cannot enter (``/root`` is mode 700, and pyenv lives there) is covered, in a
private mount namespace of the command only, by an empty tmpfs on which just the needed paths are
bound back. Nothing changes for the rest of the machine, and no file is copied.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

TEST_USER = "agentcore-test"
CHECKOUT = Path(__file__).resolve().parents[2]


class UnprivilegedUnavailable(RuntimeError):
    """The command cannot be run as another user here (a one-line reason)."""


def ensure_user(name: str = TEST_USER) -> pwd.struct_passwd:
    """The test user, created (system account, no home, no login) if it does not exist."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise UnprivilegedUnavailable(f"user {name!r} does not exist and only root can create it")
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    done = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode not in (0, 9):  # 9: created meanwhile by another process
        raise UnprivilegedUnavailable(f"cannot create user {name!r}: {done.stderr.strip()}")
    return pwd.getpwnam(name)


def _enterable_by(st: os.stat_result, user: pwd.struct_passwd) -> bool:
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.pw_gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def needed_paths() -> list[Path]:
    """What the command must reach: this checkout and the Python that runs it."""
    paths = {CHECKOUT, Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent}
    real = sorted({Path(os.path.realpath(p)) for p in paths})
    return [p for p in real if not any(q != p and q in p.parents for q in real)]


def blocked_ancestors(user: pwd.struct_passwd, paths: list[Path]) -> dict[Path, list[Path]]:
    """For each needed path under a directory ``user`` cannot enter: that (highest) directory."""
    out: dict[Path, list[Path]] = {}
    for path in paths:
        if not _enterable_by(path.stat(), user):  # a mount cannot change its own mode
            raise UnprivilegedUnavailable(
                f"{path} cannot be entered by other users (mode {stat.filemode(path.stat().st_mode)}): "
                "make it readable (chmod -R o+rX) or clone with umask 022"
            )
        for ancestor in reversed(path.parents):
            if not _enterable_by(ancestor.stat(), user):
                out.setdefault(ancestor, []).append(path)
                break
    return out


def command(argv: list[str], *, env: dict[str, str], user: pwd.struct_passwd, stash: Path) -> list[str]:
    """``argv`` as ``user``, with blocked directories covered as described above."""
    lines = ["set -e"]
    for i, (blocked, paths) in enumerate(sorted(blocked_ancestors(user, needed_paths()).items())):
        keep = stash / str(i)
        keep.mkdir()
        lines.append(f"mount --bind {shlex.quote(str(blocked))} {shlex.quote(str(keep))}")
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m agentcore-test {shlex.quote(str(blocked))}")
        for path in sorted(set(paths)):
            rel = path.relative_to(blocked)
            lines.append(f"mkdir -p {shlex.quote(str(path))}")
            lines.append(f"mount --bind {shlex.quote(str(keep / rel))} {shlex.quote(str(path))}")
    drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "env", "-i"]
    drop += [f"{k}={v}" for k, v in env.items()]
    lines.append("exec " + shlex.join(drop + argv))
    script = "\n".join(lines)
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script]


def run_as_user(
    argv: list[str], *, timeout: float, cwd: Path = CHECKOUT, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (its first item may be ``python``: this Python) as the test user."""
    if os.geteuid() != 0:
        raise UnprivilegedUnavailable("only root can run a command as another user")
    user = ensure_user()
    home = Path(tempfile.mkdtemp(prefix="agentcore-unpriv-home-"))
    os.chown(home, user.pw_uid, user.pw_gid)
    stash = Path(tempfile.mkdtemp(prefix="agentcore-unpriv-stash-"))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **(extra_env or {}),
    }
    if argv and argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    try:
        cmd = command(
            ["/bin/sh", "-c", f'cd {shlex.quote(str(cwd))} && exec "$@"', "sh", *argv],
            env=env,
            user=user,
            stash=stash,
        )
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        for d in stash.iterdir():
            d.rmdir()
        stash.rmdir()
