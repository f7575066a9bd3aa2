"""The escape suite again, as an unprivileged user: the rootless sandbox (user namespaces).

Run as root (CI), this drops to the test user (created if missing) with ``setpriv`` and runs
``test_escape.py``, ``test_rootless.py``, ``test_faults.py`` and ``test_pool.py`` there; every
attack then meets the rootless sandbox.
Run as an ordinary user, the whole suite is rootless already, so this has nothing to add.
"""

from __future__ import annotations

import os
import re

import pytest

from .unprivileged import run_as_user

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="not root: test_escape.py and test_rootless.py ran rootless in this very run",
)


def test_the_escape_suite_holds_in_the_rootless_sandbox():
    done = run_as_user(
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--tb=short",
         "tests/interpreter/test_escape.py", "tests/interpreter/test_rootless.py",
         "tests/interpreter/test_faults.py", "tests/interpreter/test_pool.py"],
        timeout=1200,
    )  # fmt: skip
    out = done.stdout + done.stderr
    summary = [line for line in out.splitlines() if re.match(r"^(FAILED|ERROR) ", line)]
    assert done.returncode == 0, "\n".join(summary) + "\n\n" + out[-8000:]
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) >= 60, out[-2000:]  # the suite really ran
    assert " skipped" not in out.splitlines()[-1], out[-2000:]  # all of it, rootless
