"""Install the AgentCore kernelspec (``kernel/``: kernel.json and logos) where Jupyter finds it.

``kernel.json`` names ``python``; the installed copy names the interpreter doing the install, so
the kernel runs in the environment agentcore-nb is installed in (as ``ipykernel install`` does).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError
from .kernel_names import DISPLAY_NAME, KERNEL_NAME

_FILES = ("kernel.json", "logo-32x32.png", "logo-64x64.png")


#: What ``kernel/kernel.json`` holds, for installations without the ``kernel/`` folder.
DEFAULT_SPEC: dict[str, Any] = {
    "argv": ["python", "-m", "agentcore_nb.notebook.kernel", "-f", "{connection_file}"],
    "display_name": DISPLAY_NAME,
    "language": "python",
    "interrupt_mode": "signal",
    "metadata": {"debugger": True},
}


def spec_source() -> Path | None:
    """The kernelspec folder (``kernel/`` at the top of a source checkout), if this install has it."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "kernel" / "spec", here.parents[1] / "kernel"):
        if (candidate / "kernel.json").is_file():
            return candidate
    return None


def in_virtualenv() -> bool:
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix)


def install_kernelspec(
    *, user: bool = False, sys_prefix: bool = False, prefix: str | Path | None = None, name: str = KERNEL_NAME
) -> Path:
    """Install (or replace) the kernelspec; returns the folder it was written to.

    With no location given: ``--sys-prefix`` inside a virtualenv, else ``--user``.
    """
    chosen = [
        flag for flag, on in (("--user", user), ("--sys-prefix", sys_prefix), ("--prefix", prefix)) if on
    ]
    if len(chosen) > 1:
        raise AgentcoreError(f"choose one of --user, --sys-prefix, --prefix (got {' and '.join(chosen)})")
    if not chosen:
        sys_prefix, user = (True, False) if in_virtualenv() else (False, True)
    if sys_prefix:
        prefix = sys.prefix
    from jupyter_client.kernelspec import KernelSpecManager

    source = spec_source()
    with tempfile.TemporaryDirectory() as tmp:
        spec: dict[str, Any] = dict(DEFAULT_SPEC)
        if source is not None:
            for filename in _FILES:
                if (source / filename).is_file():
                    shutil.copy(source / filename, Path(tmp) / filename)
            spec = json.loads((source / "kernel.json").read_text("utf-8"))
        spec["argv"] = [sys.executable, *spec["argv"][1:]]
        spec["display_name"] = spec.get("display_name", DISPLAY_NAME)
        (Path(tmp) / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", "utf-8")
        try:
            dest = KernelSpecManager().install_kernel_spec(
                tmp,
                kernel_name=name,
                user=user,
                prefix=str(prefix) if prefix is not None else None,
                replace=True,
            )
        except OSError as exc:
            raise AgentcoreError(
                f"cannot install the kernelspec: {exc.strerror or exc}",
                hint="use --user, or --prefix DIR you can write to",
            ) from None
    return Path(dest)


def uninstall_kernelspec(name: str = KERNEL_NAME) -> Path:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return Path(KernelSpecManager().remove_kernel_spec(name))
    except (NoSuchKernel, KeyError):
        raise AgentcoreError(f"no kernelspec named '{name}' is installed") from None
