"""Pid 1 of a rootless sandbox: starts the interpreter, reaps orphans, ends with it.

Rootless, every process in the sandbox has the same uid, so bubblewrap's own pid 1 would be open
to the sandboxed code (``/proc/1/mem``, no seccomp filter on it). This one runs under the filter
and marks itself not dumpable before it starts anything, so code in the sandbox cannot read or
write its memory, open its ``/proc`` files or trace it. Its exit status is the interpreter's (a
signal becomes 128 + its number, as bubblewrap reports it).
"""

import ctypes
import os
import signal
import sys

PR_SET_DUMPABLE = 4

ARGV = sys.argv[1:]
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
    sys.exit(126)
main = os.fork()
if main == 0:
    try:
        os.execv(ARGV[0], ARGV)
    finally:
        os._exit(127)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the interpreter, never for us
os.closerange(3, 1 << 16)  # the interpreter's pipes are its own
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        sys.exit(0)
    except InterruptedError:
        continue
    if pid == main:
        code = os.waitstatus_to_exitcode(status)
        sys.exit(128 - code if code < 0 else code)
