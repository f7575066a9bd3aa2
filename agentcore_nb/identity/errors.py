"""Identity's own error (kept apart so importing it loads no cryptography)."""

from __future__ import annotations

from ..errors import AgentcoreError


class IdentityError(AgentcoreError):
    """Identity cannot do what was asked (bad arguments, unusable key files or settings)."""
