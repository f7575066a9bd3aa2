"""A seccomp filter for sandboxed code, compiled with libseccomp (through ctypes) for bwrap --seccomp.

Sandboxed code runs as an unprivileged user, but the kernel still lets such a user create user
namespaces (and become "root" inside them), mount filesystems there, trace its own processes, use
io_uring, BPF and keyrings. None of that is needed to run Python, JavaScript or R, and each is a
known path to kernel bugs, so the filter answers EPERM. ``clone3`` gets ENOSYS (its flags live in
memory a filter cannot read), which makes libc fall back to ``clone``, whose flags are checked.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading

from .limits import SandboxUnavailableError

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
SCMP_CMP_EQ = 4
CLONE_NEWUSER = 0x10000000
TIOCSTI = 0x5412


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


#: Always refused (EPERM).
DENIED = (
    "mount", "umount2", "pivot_root", "chroot", "setns", "keyctl", "add_key", "request_key", "bpf",
    "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "ptrace", "process_vm_readv", "process_vm_writev",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr", "quotactl", "syslog", "acct", "swapon",
    "swapoff", "reboot", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie", "vhangup",
)  # fmt: skip


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_lock = threading.Lock()
_program: bytes | None = None


def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        raise SandboxUnavailableError(
            "libseccomp is not installed, so the sandbox cannot filter system calls",
            hint="install it: sudo apt-get install -y libseccomp2",
        ) from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp),
    ]  # fmt: skip
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _compile() -> bytes:
    lib = _lib()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise SandboxUnavailableError("libseccomp could not create a filter")
    try:

        def rule(action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a syscall on this architecture
            array = (_ArgCmp * max(1, len(cmps)))(*[_ArgCmp(*c) for c in cmps])
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
            if rc < 0:
                raise SandboxUnavailableError(f"libseccomp refused a rule for {name} ({os.strerror(-rc)})")

        eperm = _errno_action(errno.EPERM)
        for name in DENIED:
            rule(eperm, name)
        masked_newuser = (0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)
        rule(eperm, "unshare", masked_newuser)
        rule(eperm, "clone", masked_newuser)
        rule(_errno_action(errno.ENOSYS), "clone3")
        rule(eperm, "ioctl", (1, SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
        read_fd, write_fd = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(ctx, write_fd)
            os.close(write_fd)
            write_fd = -1
            if rc < 0:
                raise SandboxUnavailableError(f"libseccomp could not export the filter ({os.strerror(-rc)})")
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
    finally:
        lib.seccomp_release(ctx)


def seccomp_program() -> bytes:
    """The compiled BPF program (built once per process)."""
    global _program
    with _lock:
        if _program is None:
            _program = _compile()
        return _program


def seccomp_fd() -> int:
    """A readable fd holding the program, for ``bwrap --seccomp FD`` (the caller closes it)."""
    program = seccomp_program()
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, program)  # a few hundred bytes: fits in the pipe buffer
    finally:
        os.close(write_fd)
    return read_fd
