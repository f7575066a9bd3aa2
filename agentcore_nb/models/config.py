"""Which model to use: ``%model`` > ``$AGENTCORE_MODEL`` > ``models.json`` in the state dir > offline.

A model is named ``PROVIDER:MODEL``: ``openai:gpt-4o-mini``, ``anthropic:claude-3-5-haiku-latest``,
``bedrock:anthropic.claude-3-haiku-20240307-v1:0``, ``ollama:llama3.2`` (OpenAI-compatible at
``http://localhost:11434/v1``), ``offline`` (the offline reasoner, not an LLM) or ``replay:RUN_ID``.
API keys come only from the environment (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, the AWS chain)
or from code; the config file refuses them, and nothing here prints, logs or traces them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .http import Retry, safe_url
from .types import ModelError, Provider

CONFIG_FILE = "models.json"
PROVIDERS = ("openai", "anthropic", "bedrock", "ollama", "offline", "replay")
OLLAMA_URL = "http://localhost:11434/v1"
OFFLINE = "offline"
_FILE_KEYS = {"model", "base_url", "timeout", "retries", "max_tokens"}
_SECRETISH = ("key", "token", "secret", "password")


def parse_spec(text: str) -> tuple[str, str]:
    """``"openai:gpt-4o-mini"`` -> ``("openai", "gpt-4o-mini")``; one-line errors for the rest."""
    if not isinstance(text, str) or not text.strip():
        raise ModelError("a model is named PROVIDER:MODEL, e.g. openai:gpt-4o-mini or offline")
    text = text.strip()
    provider, _, model = text.partition(":")
    provider = provider.lower()
    if provider in ("offline", "local"):
        return OFFLINE, model or "offline-reasoner"
    if provider not in PROVIDERS:
        raise ModelError(
            f"unknown model provider {provider!r} in {text!r}",
            hint=f"use one of {', '.join(PROVIDERS)} (e.g. openai:gpt-4o-mini)",
        )
    if not model:
        raise ModelError(f"{text!r} names no model", hint=f"write {provider}:MODEL")
    return provider, model


def build_provider(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    retry: Retry | None = None,
    max_tokens: int | None = None,
    event_log: Any = None,
    replay_tools: bool = False,
) -> Provider:
    """A provider for ``spec``. Keys default to the provider's environment variable."""
    provider, model = parse_spec(spec)
    if provider == OFFLINE:
        from .offline import OfflineReasoner

        return OfflineReasoner(model=model)
    if provider == "replay":
        from .replay import ReplayProvider

        if event_log is None:
            from ..eventlog.duckdb import DuckDBEventLog
            from ..home import database_path

            event_log = DuckDBEventLog(database_path())
        return ReplayProvider.from_log(event_log, model, tools=replay_tools)
    if provider in ("openai", "ollama"):
        from .openai import OpenAIProvider

        if provider == "ollama":
            base_url = base_url or os.environ.get("OLLAMA_BASE_URL") or OLLAMA_URL
            api_key = api_key if api_key is not None else ""
        return OpenAIProvider(
            model, base_url=base_url, api_key=api_key, timeout=timeout, retry=retry, max_tokens=max_tokens
        )
    if provider == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(
            model, base_url=base_url, api_key=api_key, timeout=timeout, retry=retry, max_tokens=max_tokens
        )
    from .bedrock import BedrockProvider

    return BedrockProvider(model, retry=retry, max_tokens=max_tokens)


def read_config_file(path: Path) -> dict[str, Any]:
    """``models.json``: ``{"model": ..., "base_url": ..., "timeout": ..., "retries": ..., "max_tokens": ...}``."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{path} is not readable JSON ({type(exc).__name__})", hint="fix or delete it"
        ) from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} must hold a JSON object")
    secret = [k for k in data if any(s in k.lower() for s in _SECRETISH)]
    if secret:
        raise ModelError(
            f"{path} must not hold credentials ({', '.join(secret)})",
            hint="remove them and set OPENAI_API_KEY / ANTHROPIC_API_KEY in the environment",
        )
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise ModelError(
            f"{path}: unknown setting(s) {', '.join(unknown)}", hint=f"use {', '.join(sorted(_FILE_KEYS))}"
        )
    return data


class ModelService:
    """The ``models`` service: the configured default provider, and providers by name (cached)."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        event_log: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.home = Path(home) if home is not None else None
        self._event_log = event_log
        self._environ = environ if environ is not None else os.environ
        self._chosen: tuple[str, str | None] | None = None
        self._cache: dict[tuple[str, str | None], Provider] = {}
        self._lock = threading.RLock()

    @property
    def config_path(self) -> Path | None:
        return self.home / CONFIG_FILE if self.home is not None else None

    def _file(self) -> dict[str, Any]:
        return read_config_file(self.config_path) if self.config_path is not None else {}

    def settings(self) -> dict[str, Any]:
        """``{model, base_url, source, timeout, retries, max_tokens}`` (never a key)."""
        file = self._file()
        out: dict[str, Any] = {
            "timeout": float(file.get("timeout", 60.0)),
            "retries": int(file.get("retries", 4)),
            "max_tokens": file.get("max_tokens"),
        }
        if self._chosen is not None:
            out.update(model=self._chosen[0], base_url=self._chosen[1], source="%model")
        elif self._environ.get("AGENTCORE_MODEL"):
            out.update(model=self._environ["AGENTCORE_MODEL"], base_url=None, source="AGENTCORE_MODEL")
        elif file.get("model"):
            out.update(model=file["model"], base_url=file.get("base_url"), source=str(self.config_path))
        else:
            out.update(model=OFFLINE, base_url=None, source="default")
        return out

    @property
    def note(self) -> str:
        """Said wherever the default is used: why the offline reasoner answers, if it does."""
        if self.settings()["source"] == "default":
            return "no model configured (%model, AGENTCORE_MODEL or models.json): using the offline reasoner (not an LLM)"
        return ""

    def provider(
        self, spec: str | Provider | None = None, *, base_url: str | None = None, replay_tools: bool = False
    ) -> Provider:
        """``spec`` (a name or a provider object) or the configured default, built once."""
        if isinstance(spec, Provider):
            return spec
        settings = self.settings()
        if spec is None:
            spec, base_url = settings["model"], base_url or settings["base_url"]
        assert isinstance(spec, str)
        key = (spec, base_url)
        with self._lock:
            found = self._cache.get(key)
            if found is None or replay_tools:
                found = build_provider(
                    spec,
                    base_url=base_url,
                    timeout=settings["timeout"],
                    retry=Retry(attempts=max(1, settings["retries"])),
                    max_tokens=settings["max_tokens"],
                    event_log=self._event_log() if callable(self._event_log) else self._event_log,
                    replay_tools=replay_tools,
                )
                if not spec.startswith("replay"):
                    self._cache[key] = found
            return found

    def default(self) -> Provider:
        return self.provider(None)

    def use(self, spec: str, *, base_url: str | None = None, save: bool = False) -> Provider:
        """Make ``spec`` the default for this process (``%model``); ``save`` writes ``models.json``."""
        provider = self.provider(spec, base_url=base_url)  # fails now, not at the first call
        with self._lock:
            self._chosen = (spec, base_url)
        if save:
            if self.config_path is None:
                raise ModelError("there is no state directory to save models.json in")
            data = self._file()
            data["model"] = spec
            if base_url:
                data["base_url"] = base_url
            else:
                data.pop("base_url", None)
            tmp = self.config_path.with_name(f".{CONFIG_FILE}.{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
            os.replace(tmp, self.config_path)  # other processes of the project never read half a file
        return provider

    def reset(self) -> None:
        """Forget the ``%model`` choice (back to env / file / offline)."""
        with self._lock:
            self._chosen = None

    def status(self) -> dict[str, Any]:
        """What is configured, for ``%model`` and the CLI (never a key, only whether one is set)."""
        settings = self.settings()
        provider, _ = parse_spec(settings["model"])
        out: dict[str, Any] = {"model": settings["model"], "source": settings["source"]}
        if provider in ("openai", "ollama"):
            url = settings["base_url"] or (
                OLLAMA_URL if provider == "ollama" else self._environ.get("OPENAI_BASE_URL")
            )
            out["base_url"] = safe_url(url or "https://api.openai.com/v1")
            out["api_key"] = "set (OPENAI_API_KEY)" if self._environ.get("OPENAI_API_KEY") else "not set"
        elif provider == "anthropic":
            out["base_url"] = safe_url(
                settings["base_url"] or self._environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
            )
            out["api_key"] = (
                "set (ANTHROPIC_API_KEY)" if self._environ.get("ANTHROPIC_API_KEY") else "not set"
            )
        elif provider == OFFLINE:
            out["kind"] = "offline reasoner (not an LLM)"
        if self.note:
            out["note"] = self.note
        return out

    def close(self) -> None:
        with self._lock:
            for p in self._cache.values():
                p.close()
            self._cache.clear()
