"""``agentcore code run`` as a user runs it, and ``%%code`` in a real Jupyter kernel."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.kernel import running_kernel

from .test_sessions import METRICS_CSV


def agentcore(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_nb.cli", "code", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_code_run_runs_files_in_the_sandbox(tmp_path: Path, subprocess_env):
    (tmp_path / "hello.py").write_text("import os\nprint('hello from', os.getcwd(), os.getuid() != 0)\n")
    out = agentcore("run", str(tmp_path / "hello.py"), env=subprocess_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello from /workspace True\n"
    assert "bubblewrap" in out.stderr
    (tmp_path / "calc.R").write_text("x <- c(2, 4)\nmean(x)\n")
    r = agentcore("run", str(tmp_path / "calc.R"), env=subprocess_env)
    assert r.returncode == 0 and "[1] 3" in r.stdout
    js = agentcore("run", "-", "--lang", "js", "--json", env=subprocess_env, stdin="console.log(2 ** 10)")
    assert js.returncode == 0 and '"stdout": "1024\\n"' in js.stdout


def test_code_run_fails_with_one_line(tmp_path: Path, subprocess_env):
    (tmp_path / "bad.py").write_text("1 / 0\n")
    out = agentcore("run", str(tmp_path / "bad.py"), env=subprocess_env)
    assert out.returncode == 1
    assert "error: ZeroDivisionError: division by zero" in out.stderr
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    out = agentcore("run", str(slow), "--timeout", "0.5", env=subprocess_env)
    assert out.returncode == 1 and "error: TimeoutError: wall-clock limit of 0.5 s exceeded" in out.stderr
    for args, message in [
        ((str(tmp_path / "missing.py"),), "error: cannot read"),
        ((str(slow), "--lang", "cobol"), "error: unknown language 'cobol'"),
        ((str(tmp_path / "notes.txt"),), "error: cannot read"),
        ((str(slow), "--allow-net", "nohost"), "error: allow-net entry 'nohost' must look like HOST:PORT"),
    ]:
        out = agentcore("run", *args, env=subprocess_env)
        assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_code_run_unsafe_local_says_so(tmp_path: Path, subprocess_env):
    (tmp_path / "me.py").write_text("print('ran')\n")
    out = agentcore("run", str(tmp_path / "me.py"), "--unsafe-local", env=subprocess_env)
    assert out.returncode == 0 and out.stdout == "ran\n"
    assert "WITHOUT a sandbox" in out.stderr


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    home = tmp_path_factory.mktemp("kernel-home")
    with running_kernel("python3", env={"AGENTCORE_HOME": str(home), "NO_COLOR": "1"}) as k:
        assert k.execute("%load_ext agentcore_nb").status == "ok"
        yield k


def test_code_magic_shows_a_dataframe_and_a_plot(kernel, tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text(METRICS_CSV)
    wrote = kernel.execute(
        "%%code\nimport pathlib\npathlib.Path('metrics.csv').write_text("
        + repr(METRICS_CSV)
        + ")\nprint('written')"
    )
    assert wrote.status == "ok" and wrote.stdout == "written\n", wrote.errors
    table = kernel.execute(
        "%%code\nimport pandas as pd\ndf = pd.read_csv('metrics.csv')\n"
        "df['rolling_avg'] = df['cpu'].rolling(10).mean()\ndf.tail()"
    )
    assert table.status == "ok", table.errors
    (data,) = table.data
    assert "<table" in data["text/html"] and "rolling_avg" in data["text/html"]
    assert data["application/vnd.dataresource+json"]["data"][-1]["ts"] == 39
    plot = kernel.execute(
        "%%code\nimport matplotlib.pyplot as plt\nplt.plot(df['ts'], df['rolling_avg'])\nNone"
    )
    assert plot.status == "ok", plot.errors
    pngs = [d["image/png"] for d in plot.data if "image/png" in d]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")
    result = kernel.execute("_code_result.language, _code_result.ok")
    assert "('python', True)" in result.text()


def test_code_magic_runs_javascript_and_r(kernel):
    js = kernel.execute("%%code --lang js\nvar xs = [1, 2, 3];\nxs.map(x => x * 2)")
    assert js.status == "ok" and "[ 2, 4, 6 ]" in js.text()
    r = kernel.execute("%%code --lang r --session stats\nv <- c(1, 5, 9)\nmedian(v)")
    assert r.status == "ok" and "[1] 5" in r.stdout


def test_code_magic_errors_are_one_line(kernel):
    bad = kernel.execute("%%code\nundefined_name")
    assert bad.status == "error"
    (err,) = bad.errors
    assert err["traceback"] == [f"{err['ename']}: {err['evalue']}"]
    assert "NameError: name 'undefined_name' is not defined" in err["evalue"]
    assert "undefined_name" in bad.stderr  # the sandbox's traceback is shown as stderr
    slow = kernel.execute("%%code --timeout 0.5\nimport time\ntime.sleep(10)")
    assert slow.status == "error" and "wall-clock limit of 0.5 s exceeded" in slow.errors[0]["evalue"]
    for line, message in [
        ("%%code --lang cobol", "unknown language"),
        ("%%code --timeout -2", "timeout must be positive"),
        ("%%code --allow-net nope", "must look like HOST:PORT"),
        ("%%code --session ../x", "invalid session name"),
    ]:
        out = kernel.execute(f"{line}\nprint(1)")
        assert out.status == "error" and message in out.errors[0]["evalue"], out.errors
        assert len(out.errors[0]["traceback"]) == 1
