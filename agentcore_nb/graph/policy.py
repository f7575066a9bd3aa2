"""Per-node failure policy: retries with exponential backoff and jitter, timeout, fallback route."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

ON_ERROR = ("fail", "skip", "fallback")


@dataclass(slots=True)
class Backoff:
    """Delay before retry ``n`` (1-based) is ``min(max, initial * multiplier**(n-1))``, +/- jitter."""

    initial: float = 0.1
    multiplier: float = 2.0
    max: float = 30.0
    jitter: float = 0.1  # fraction of the delay, drawn uniformly in [-jitter, +jitter]

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        base = min(self.max, self.initial * (self.multiplier ** max(0, retry - 1)))
        if self.jitter:
            draw = (rng or random).uniform(-self.jitter, self.jitter)
            base *= 1.0 + draw
        return max(0.0, base)

    def to_dict(self) -> dict[str, float]:
        return {
            "initial": self.initial,
            "multiplier": self.multiplier,
            "max": self.max,
            "jitter": self.jitter,
        }


@dataclass(slots=True)
class Policy:
    """What the runtime does when a node fails or runs too long.

    ``on_error``: ``fail`` fails the node (dependents are skipped, the run ends failed, independent
    branches still finish); ``skip`` records the error and lets dependents run with ``None``;
    ``fallback`` runs the ``fallback`` node in its place. ``on_error`` defaults to ``fallback``
    when a fallback is named, else ``fail``.
    """

    retries: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float | None = None
    on_error: str = ""
    fallback: str | None = None

    def __post_init__(self) -> None:
        if not self.on_error:
            self.on_error = "fallback" if self.fallback else "fail"

    def problems(self) -> list[str]:
        """Everything wrong with this policy, as short phrases."""
        out = []
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            out.append(f"retries must be a non-negative integer, got {self.retries!r}")
        elif self.retries > 100:
            out.append(f"retries must be at most 100, got {self.retries}")
        if self.timeout is not None and (not isinstance(self.timeout, (int, float)) or self.timeout <= 0):
            out.append(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        b = self.backoff
        for name in ("initial", "multiplier", "max"):
            value = getattr(b, name)
            if not isinstance(value, (int, float)) or value < 0:
                out.append(f"backoff.{name} must be a non-negative number, got {value!r}")
        if not isinstance(b.jitter, (int, float)) or not 0 <= b.jitter <= 1:
            out.append(f"backoff.jitter must be between 0 and 1, got {b.jitter!r}")
        if self.on_error not in ON_ERROR:
            out.append(f"on_error must be one of {', '.join(ON_ERROR)}, got {self.on_error!r}")
        if self.on_error == "fallback" and not self.fallback:
            out.append("on_error is 'fallback' but no fallback node is named")
        if self.fallback is not None and self.on_error != "fallback":
            out.append(f"a fallback is named but on_error is '{self.on_error}'")
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.retries:
            data["retries"] = self.retries
        if self.backoff != Backoff():
            data["backoff"] = self.backoff.to_dict()
        if self.timeout is not None:
            data["timeout"] = self.timeout
        if self.on_error != ("fallback" if self.fallback else "fail"):
            data["on_error"] = self.on_error
        if self.fallback:
            data["fallback"] = self.fallback
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        backoff = Backoff(**data["backoff"]) if "backoff" in data else Backoff()
        return cls(
            retries=data.get("retries", 0),
            backoff=backoff,
            timeout=data.get("timeout"),
            on_error=data.get("on_error", ""),
            fallback=data.get("fallback"),
        )
