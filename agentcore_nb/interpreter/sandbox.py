"""The bubblewrap command line for one sandboxed process, and the interpreters it can run.

Every sandboxed process gets: new PID, network, IPC, UTS and cgroup namespaces (so no network at
all: only its own loopback), a fresh root holding read-only system directories and nothing else
from the host, a private size-capped ``/tmp``, the session's work directory at ``/workspace``,
a new session (setsid), death with its parent, a seccomp filter, rlimits, an environment built
from an allow-list (bwrap itself is started with that environment, so ``/proc/1/environ`` holds
nothing of the host's), and, last, an unprivileged per-session uid with no capabilities
(``setpriv``) before any of the user's code runs.

Not root, the same sandbox is rootless: a user namespace of the calling user (``--unshare-user``,
no further user namespace inside), no capabilities, read-only root and /dev, and our own init as
pid 1 (``kernels/init.py``); docs/interpreter.md says what differs and what makes up for it.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .limits import InterpreterError, Limits, MiB, SandboxUnavailableError

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
SANDBOX_KERNEL_DIR = "/opt/agentcore"
WORKSPACE = "/workspace"

#: Address space node maps before it runs any code (measured: ~730 MiB), added to the memory limit.
JS_ADDRESS_RESERVE = 800 * MiB

#: Languages by name, with the names people also use.
LANGUAGE_ALIASES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "r": "r",
}
LANGUAGES = ("python", "javascript", "r")

#: Host files under /etc the interpreters need (everything else in /etc stays out of sight).
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "R", "fonts", "ssl/certs",
    "ssl/openssl.cnf", "ca-certificates", "ca-certificates.conf", "localtime", "mime.types",
    "nsswitch.conf", "host.conf", "gai.conf", "protocols", "services", "os-release",
    "debian_version", "locale.alias", "timezone", "matplotlibrc",
)  # fmt: skip

INSTALL_HINT = "install it with: sudo apt-get install -y bubblewrap (Debian/Ubuntu) or dnf install bubblewrap"


def normalize_language(language: str) -> str:
    if not isinstance(language, str) or language.strip().lower() not in LANGUAGE_ALIASES:
        raise InterpreterError(f"unknown language {language!r}", hint=f"use one of: {', '.join(LANGUAGES)}")
    return LANGUAGE_ALIASES[language.strip().lower()]


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed process: an allow-list, never the host's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": WORKSPACE,
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_MAX_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
        "UV_THREADPOOL_SIZE": "2",
        "R_LIBS_USER": "/workspace/.R/library",
    }
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not key.replace("_", "").isalnum() or not isinstance(value, str):
            raise InterpreterError(f"env entry {key!r} must be NAME=VALUE text")
        env[key] = value
    return env


def _which(name: str, *, what: str, hint: str) -> str:
    found = shutil.which(name)
    if not found:
        raise InterpreterError(f"{what} is not installed ({name} not found on PATH)", hint=hint)
    return found


@dataclass(frozen=True, slots=True)
class Runtime:
    """How to start one language's kernel: its argv (before the two fd numbers) and extra binds."""

    language: str
    argv: tuple[str, ...]
    binds: tuple[str, ...]


def _outside_usr(path: str) -> tuple[str, ...]:
    """Install roots a sandbox must see for an executable that lives outside /usr."""
    real = os.path.realpath(path)
    if real.startswith("/usr/"):
        return ()
    return (os.path.dirname(os.path.dirname(real)),)


def python_runtime(kernel_dir: str) -> Runtime:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *_outside_usr(sys.executable)}
    binds = tuple(sorted(r for r in roots if r and not r.startswith("/usr") and r != "/"))
    return Runtime("python", (sys.executable, "-I", f"{kernel_dir}/pykernel.py"), binds)


def node_runtime(kernel_dir: str, limits: Limits) -> Runtime:
    node = _which("node", what="JavaScript (node)", hint="install it: sudo apt-get install -y nodejs")
    heap_mb = max(16, limits.memory_bytes // MiB)
    argv = (node, f"--max-old-space-size={heap_mb}", "--v8-pool-size=1", f"{kernel_dir}/jskernel.js")
    return Runtime("javascript", argv, _outside_usr(node))


def r_runtime(kernel_dir: str) -> Runtime:
    rscript = _which("Rscript", what="R", hint="install it: sudo apt-get install -y r-base-core")
    return Runtime("r", (rscript, "--vanilla", f"{kernel_dir}/rkernel.R"), _outside_usr(rscript))


def runtime_for(language: str, limits: Limits, *, sandboxed: bool) -> Runtime:
    kernel_dir = SANDBOX_KERNEL_DIR if sandboxed else str(KERNEL_DIR)
    if language == "python":
        return python_runtime(kernel_dir)
    if language == "javascript":
        return node_runtime(kernel_dir, limits)
    return r_runtime(kernel_dir)


def address_space(language: str, limits: Limits) -> int:
    return limits.memory_bytes + (JS_ADDRESS_RESERVE if language == "javascript" else 0)


def rlimit_args(prlimit: str, limits: Limits, *, address_space: int, cpu_seconds: float) -> list[str]:
    cpu = max(1, int(cpu_seconds + 0.999))
    return [
        prlimit,
        f"--as={address_space}",
        f"--cpu={cpu}:{cpu + 1}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


class Bubblewrap:
    """Finds bwrap and the helpers, and writes sandbox command lines."""

    def __init__(self, bwrap: str | None = None, *, rootless: bool | None = None) -> None:
        found = bwrap or shutil.which("bwrap")
        if not found or not os.access(found, os.X_OK):
            raise SandboxUnavailableError(
                "bubblewrap (bwrap) is not installed, so untrusted code is refused", hint=INSTALL_HINT
            )
        self.bwrap = found
        #: Root mode: one unprivileged uid per session (needs root). Rootless: a user namespace of
        #: the calling user (``--unshare-user``), one uid for all of its sessions.
        self.rootless = os.geteuid() != 0 if rootless is None else bool(rootless)
        self.prlimit = _which(
            "prlimit", what="prlimit (util-linux)", hint="sudo apt-get install -y util-linux"
        )
        self.setpriv = _which(
            "setpriv", what="setpriv (util-linux)", hint="sudo apt-get install -y util-linux"
        )
        for tool in (self.prlimit, self.setpriv):
            if not os.path.realpath(tool).startswith("/usr/"):
                raise SandboxUnavailableError(f"{tool} must live under /usr to be usable in the sandbox")
        if self.rootless:
            check_user_namespaces(found)

    @property
    def mode(self) -> str:
        return "bubblewrap-rootless" if self.rootless else "bubblewrap"

    def command(
        self,
        *,
        uid: int,
        workdir: Path,
        etcdir: Path,
        limits: Limits,
        argv: list[str],
        binds: tuple[str, ...] = (),
        address_space: int,
        cpu_seconds: float,
        info_fd: int,
        seccomp_fd: int,
        block_fd: int | None = None,
        reaps: bool = False,
    ) -> list[str]:
        """The command line. ``reaps``: ``argv`` reaps its orphans itself (the Python kernel), so
        rootless it is pid 1 directly (the code then runs in pid 1: there is nothing above it to
        reach); otherwise our ``init.py`` is pid 1."""
        args = [
            self.bwrap,
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--info-fd", str(info_fd), "--seccomp", str(seccomp_fd),
        ]  # fmt: skip
        if self.rootless:
            # the caller's own uid in a new user namespace, in which no further one can be made;
            # our init (not dumpable, filtered) is pid 1 instead of bwrap's
            args += ["--unshare-user", "--disable-userns", "--as-pid-1"]
            binds = (*binds, *python_runtime(SANDBOX_KERNEL_DIR).binds)
        if block_fd is not None:
            args += ["--block-fd", str(block_fd)]
        made: set[str] = {"/"}

        def parents(dest: str) -> None:
            parts = dest.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/" + "/".join(parts[:i])
                if d not in made:
                    args.extend(["--perms", "0755", "--dir", d])
                    made.add(d)

        def ro(src: str, dest: str | None = None) -> None:
            dest = dest or src
            parents(dest)
            if os.path.islink(src) and dest == src:
                args.extend(["--symlink", os.readlink(src), dest])
            else:
                args.extend(["--ro-bind", src, dest])
            made.add(dest)

        ro("/usr")
        for top in ("bin", "lib", "lib64", "lib32", "libx32", "sbin"):
            if os.path.lexists(f"/{top}"):
                ro(f"/{top}")
        for name in ETC_FILES:
            if os.path.lexists(f"/etc/{name}"):
                ro(f"/etc/{name}")
        for name in ("passwd", "group", "hosts", "resolv.conf", "hostname"):
            ro(str(etcdir / name), f"/etc/{name}")
        # Install roots under /tmp (a checkout or venv there) go on top of the private /tmp.
        under_tmp = [r for r in binds if r == "/tmp" or r.startswith("/tmp/")]
        for root in binds:
            if os.path.isdir(root) and root not in under_tmp:
                ro(root)
        ro(str(KERNEL_DIR), SANDBOX_KERNEL_DIR)
        args += ["--dev", "/dev", "--proc", "/proc"]
        args += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
        made.add("/tmp")
        for root in under_tmp:
            if os.path.isdir(root):
                ro(root)
        args += ["--bind", str(workdir), WORKSPACE]
        # the sandbox's own root (a tmpfs holding the directories made above) is read-only too:
        # rootless, it belongs to the calling user, so the code could otherwise write there
        args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", WORKSPACE, "--"]
        args += rlimit_args(self.prlimit, limits, address_space=address_space, cpu_seconds=cpu_seconds)
        if self.rootless:  # bwrap dropped every capability and set no_new_privs already
            if reaps:
                return args + argv
            return args + [sys.executable, "-I", "-S", f"{SANDBOX_KERNEL_DIR}/init.py", *argv]
        args += [
            self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]  # fmt: skip
        return args + argv


USERNS_HINT = (
    "enable them (sysctl -w user.max_user_namespaces=15000; on older Debian/Ubuntu also "
    "kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ an AppArmor profile allowing bwrap userns), "
    "run as root, or pass unsafe_local=True to run without isolation, knowingly"
)


def check_user_namespaces(bwrap: str) -> None:
    """Rootless mode needs unprivileged user namespaces: try one (about 5 ms), or say what to do."""
    import subprocess

    try:
        done = subprocess.run(
            [bwrap, "--unshare-user", "--disable-userns", "--unshare-net", "--ro-bind", "/", "/", "true"],
            env={"PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailableError(
            f"cannot try a user namespace with bwrap: {exc}", hint=USERNS_HINT
        ) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise SandboxUnavailableError(
            "user namespaces are not available to this user, so the sandbox cannot isolate code "
            "without root" + (f" ({detail[0]})" if detail else ""),
            hint=USERNS_HINT,
        )


def write_etc(etcdir: Path, uid: int, hosts: dict[str, str] | None = None, *, gid: int | None = None) -> None:
    """The sandbox's own /etc/passwd, group, hosts (plus names mapped for allowed hosts) and an
    empty resolv.conf: there is no DNS server in the sandbox."""
    etcdir.mkdir(parents=True, exist_ok=True)
    gid = uid if gid is None else gid
    files = {
        "passwd": f"root:x:0:0:root:/:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}:sandbox:{WORKSPACE}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": f"root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n",
        "resolv.conf": "# no DNS in the sandbox\n",
        "hostname": "sandbox\n",
    }
    for name, text in files.items():
        (etcdir / name).write_text(text)
        os.chmod(etcdir / name, 0o644)
    update_hosts(etcdir, hosts or {})


def update_hosts(etcdir: Path, hosts: dict[str, str]) -> None:
    """Rewrite /etc/hosts in place (same inode, so running sandboxes see it)."""
    lines = ["127.0.0.1\tlocalhost sandbox", "::1\tlocalhost ip6-localhost"]
    lines += [f"{addr}\t{name}" for name, addr in sorted(hosts.items())]
    path = etcdir / "hosts"
    with open(path, "a+") as f:
        f.seek(0)
        f.truncate()
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
