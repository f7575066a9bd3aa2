"""``agentcore serve``: a bundle as an HTTP service speaking the AgentCore Runtime contract.

:mod:`.app` (the routes), :mod:`.sessions`, :mod:`.sse`, :mod:`.auth` (inbound bearer tokens),
:mod:`.server` (uvicorn, bind, drain), :mod:`.client` (``agentcore invoke``), :mod:`.deploy`.
See ``docs/serve.md``.
"""

from __future__ import annotations

from .config import AuthConfig, ServeConfig

__all__ = ["AuthConfig", "ServeConfig"]
