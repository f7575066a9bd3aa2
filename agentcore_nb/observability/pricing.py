"""Estimated model cost: USD per million input and output tokens, by model name.

The table is a starting point, not a bill. Extend or override it with :func:`set_price` or a
``prices.json`` in the project's state directory (``{"my-model": {"input": 0.5, "output": 1.5}}``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError

#: USD per 1M tokens (input, output). Local and offline models cost nothing.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "offline": (0.0, 0.0),
}


def set_price(model: str, input_per_million: float, output_per_million: float) -> None:
    """Add or change a model's price (USD per million tokens)."""
    if input_per_million < 0 or output_per_million < 0:
        raise AgentcoreError(f"price of {model!r} must not be negative")
    PRICES[model] = (float(input_per_million), float(output_per_million))


def load_prices(path: Path) -> None:
    """Merge a ``prices.json`` file into the table (a clear error for a malformed one)."""
    if not path.is_file():
        return
    try:
        data: Any = json.loads(path.read_text("utf-8"))
        for model, price in data.items():
            set_price(model, float(price["input"]), float(price["output"]))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AgentcoreError(
            f"{path}: not a price table ({type(exc).__name__}: {exc})",
            hint='write {"model": {"input": USD_PER_1M, "output": USD_PER_1M}}',
        ) from None


def price_of(model: str) -> tuple[float, float] | None:
    """The price of ``model``, or of the longest table entry it starts with (dated versions)."""
    if model in PRICES:
        return PRICES[model]
    best = max((m for m in PRICES if model.startswith(m)), key=len, default=None)
    return PRICES[best] if best else None


def cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Estimated USD, or None when the model's price is unknown."""
    price = price_of(model)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1e6
