"""Runs one shell command inside the sandbox and reports its peak memory to the host.

The host cannot measure it itself: a process started from the (large) host Python inherits that
process's peak RSS in its accounting. This wrapper is small, forks the command, waits for it, and
writes ``{"maxrss": bytes, "cpu": seconds}`` on fd REPORT; its exit status is the command's (a signal is re-raised).
"""

import json
import os
import resource
import signal
import sys

REPORT = int(sys.argv[1])
ARGV = sys.argv[2:]
os.set_inheritable(REPORT, False)
pid = os.fork()
if pid == 0:
    try:
        os.execv(ARGV[0], ARGV)
    finally:
        os._exit(127)
_, status = os.waitpid(pid, 0)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
try:
    report = {"maxrss": usage.ru_maxrss * 1024, "cpu": usage.ru_utime + usage.ru_stime}
    os.write(REPORT, json.dumps(report).encode())
except OSError:
    pass
code = os.waitstatus_to_exitcode(status)
if code < 0:
    try:
        signal.signal(-code, signal.SIG_DFL)
    except (OSError, ValueError):
        pass  # SIGKILL cannot be caught anyway
    os.kill(os.getpid(), -code)
sys.exit(code)
