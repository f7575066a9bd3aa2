"""What a bundle's ``cells.py`` imports at run time: the result of a cell, and ``display``.

A cell's names go to the event log like any node output; names the log cannot hold (an open
database, a running server) stay usable by later nodes of the run and are logged as
``{"$unsaved": TYPE}``, as the notebook's own runs do for its namespace.
"""

from __future__ import annotations

from typing import Any

from ..errors import AgentcoreError
from ..values import encode_value

VALUE_KEY = "$value"
_SCALARS = (str, int, float, bool, type(None))


class CellNames(dict):  # type: ignore[type-arg]
    """A cell's names; pickles what it can and marks the rest, so one unsaveable name (a service
    handle) does not fail the node."""

    def __reduce__(self) -> tuple[Any, ...]:
        saved: dict[str, Any] = {}
        for key, value in self.items():
            try:
                encode_value(value)
                saved[key] = value
            except AgentcoreError:
                saved[key] = {"$unsaved": type(value).__name__}
        return (dict, (saved,))


def _plain(value: Any) -> bool:
    t = type(value)
    if t in _SCALARS:
        return True
    if t is list:
        return all(_plain(v) for v in value)
    if t is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def cell_result(scope: dict[str, Any], names: tuple[str, ...], value_var: str | None) -> dict[str, Any]:
    """The names a cell defined (those bound at its end) and its last expression's value."""
    out = {n: scope[n] for n in names if n in scope}
    if value_var is not None:
        out[VALUE_KEY] = scope.get(value_var)
    if all(_plain(v) for v in out.values()):
        return out
    return CellNames(out)


def display(*objs: Any, **kwargs: Any) -> None:
    """``display()`` outside a notebook: print each object's text form."""
    for obj in objs:
        print(repr(obj) if not isinstance(obj, str) else obj)


__all__ = ["CellNames", "VALUE_KEY", "cell_result", "display"]
