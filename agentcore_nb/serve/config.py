"""Settings of one served bundle (``agentcore serve`` options, or an ``agentcore.toml`` environment)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError

SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
REQUEST_HEADER = "x-amzn-bedrock-agentcore-runtime-request-id"
CUSTOM_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
BACKENDS = ("local", "ray")


@dataclass(slots=True)
class AuthConfig:
    """Inbound auth: ``required`` forces a bearer token even on loopback; ``jwks_url`` + ``audience``
    accept JWTs from an external issuer (AgentCore's custom-JWT mode) besides the project's own."""

    required: bool = False
    jwks_url: str = ""
    audience: str = ""
    issuer: str = ""


@dataclass(slots=True)
class ServeConfig:
    bundle: Path
    host: str = "127.0.0.1"
    port: int = 8080
    #: Runs executing at once in this process (one process: the event log has one writer).
    workers: int = 16
    body_limit: int = 100 * 1024 * 1024  # AgentCore's payload limit
    session_idle: float = 900.0
    session_max_lifetime: float = 8 * 3600.0
    drain_timeout: float = 30.0
    backend: str = "local"
    ray_address: str = ""
    auth: AuthConfig = field(default_factory=AuthConfig)

    def check(self) -> ServeConfig:
        if not 0 <= self.port <= 65535:
            raise AgentcoreError(f"port must be 0-65535, got {self.port}")
        if self.workers < 1:
            raise AgentcoreError(f"workers must be at least 1, got {self.workers}")
        if self.body_limit < 1:
            raise AgentcoreError(f"body limit must be positive, got {self.body_limit}")
        if self.session_idle <= 0 or self.session_max_lifetime <= 0:
            raise AgentcoreError("session idle timeout and maximum lifetime must be positive")
        if self.backend not in BACKENDS:
            raise AgentcoreError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if bool(self.auth.jwks_url) != bool(self.auth.audience):
            raise AgentcoreError("an external JWT issuer needs both its JWKS URL and the audience")
        return self

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bundle"] = str(self.bundle)
        return d
