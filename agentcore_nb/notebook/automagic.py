"""Automagic off for this project's magics only: they never fire without their ``%``."""

from __future__ import annotations

from typing import Any


def install_automagic_guard(shell: Any) -> Any:
    """Our magics need their ``%``: a bare ``graph`` or ``model`` is the user's name (NameError
    when undefined, as in a stock kernel). Returns the patched checker (None without one)."""
    from .magics.framework import MAGICS

    manager = getattr(shell, "prefilter_manager", None)
    for checker in getattr(manager, "checkers", ()):
        if type(checker).__name__ == "AutoMagicChecker":
            original = type(checker).check.__get__(checker)

            def check(line_info: Any, _original: Any = original) -> Any:
                if line_info.ifun.split(".", 1)[0] in MAGICS:
                    return None
                return _original(line_info)

            checker.check = check
            return checker
    return None
