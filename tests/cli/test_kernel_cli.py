"""``agentcore kernel install | uninstall`` as a user runs it (a real subprocess, real files)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

AGENTCORE = str(Path(sys.executable).with_name("agentcore"))


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENTCORE, *args], capture_output=True, text=True, env=env, timeout=60)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_install_to_a_prefix_is_complete_and_idempotent(tmp_path: Path, subprocess_env: dict[str, str]):
    for _ in range(2):
        done = cli("kernel", "install", "--prefix", str(tmp_path), env=subprocess_env)
        assert done.returncode == 0, done.stderr
    dest = tmp_path / "share" / "jupyter" / "kernels" / "agentcore"
    assert done.stdout.strip() == f"installed kernelspec 'agentcore' (AgentCore (Python 3)) in {dest}"
    spec = json.loads((dest / "kernel.json").read_text())
    assert spec["display_name"] == "AgentCore (Python 3)"
    assert spec["argv"] == [sys.executable, "-m", "agentcore_nb.notebook.kernel", "-f", "{connection_file}"]
    assert spec["language"] == "python" and spec["interrupt_mode"] == "signal"
    assert png_size(dest / "logo-32x32.png") == (32, 32)
    assert png_size(dest / "logo-64x64.png") == (64, 64)
    assert sorted(p.name for p in dest.iterdir()) == ["kernel.json", "logo-32x32.png", "logo-64x64.png"]


def test_conflicting_locations_and_unknown_uninstall_are_one_line_errors(subprocess_env: dict[str, str]):
    both = cli("kernel", "install", "--user", "--sys-prefix", env=subprocess_env)
    assert both.returncode == 1
    assert (
        both.stderr == "error: choose one of --user, --sys-prefix, --prefix (got --user and --sys-prefix)\n"
    )
    missing = cli("kernel", "uninstall", "--name", "no-such-kernel-here", env=subprocess_env)
    assert missing.returncode == 1
    assert missing.stderr == "error: no kernelspec named 'no-such-kernel-here' is installed\n"


def test_install_then_uninstall_a_named_copy_for_the_user(tmp_path: Path, subprocess_env: dict[str, str]):
    env = {**subprocess_env, "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    done = cli("kernel", "install", "--user", "--name", "agentcore-test", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "kernels" / "agentcore-test" / "kernel.json").is_file()
    gone = cli("kernel", "uninstall", "--name", "agentcore-test", env=env)
    assert gone.returncode == 0 and "removed kernelspec 'agentcore-test'" in gone.stdout
    assert not (tmp_path / "data" / "kernels" / "agentcore-test").exists()
