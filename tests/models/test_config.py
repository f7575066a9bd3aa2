"""Which model is used (``%model`` > env > models.json > offline), and complete_text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentcore_nb.models import ModelError, ModelService, OfflineReasoner, complete_text, parse_spec
from agentcore_nb.models.openai import OpenAIProvider
from agentcore_nb.project import Project

from .fakes import FakeOpenAI, Reply, scripted


def test_parse_spec() -> None:
    assert parse_spec("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert parse_spec("offline") == ("offline", "offline-reasoner")
    assert parse_spec("local") == ("offline", "offline-reasoner")
    assert parse_spec("ANTHROPIC:claude") == ("anthropic", "claude")
    with pytest.raises(ModelError, match="unknown model provider 'gpt'"):
        parse_spec("gpt:4")
    with pytest.raises(ModelError, match="names no model"):
        parse_spec("openai:")
    with pytest.raises(ModelError, match="PROVIDER:MODEL"):
        parse_spec("")


def test_default_is_the_offline_reasoner_with_a_note(tmp_path: Path) -> None:
    svc = ModelService(tmp_path, environ={})
    assert isinstance(svc.default(), OfflineReasoner)
    assert "using the offline reasoner (not an LLM)" in svc.note
    assert svc.status()["source"] == "default"


def test_precedence_model_magic_over_env_over_file(tmp_path: Path) -> None:
    with FakeOpenAI(scripted(Reply(text="hi"))) as server:
        (tmp_path / "models.json").write_text(
            json.dumps({"model": "ollama:llama3.2", "base_url": server.base_url})
        )
        svc = ModelService(tmp_path, environ={})
        assert svc.settings()["source"].endswith("models.json")
        p = svc.default()
        assert isinstance(p, OpenAIProvider) and p.model == "llama3.2" and p.base_url == server.base_url
        env = ModelService(tmp_path, environ={"AGENTCORE_MODEL": "offline"})
        assert env.settings()["source"] == "AGENTCORE_MODEL"
        assert isinstance(env.default(), OfflineReasoner)
        env.use("ollama:qwen", base_url=server.base_url)
        assert env.settings()["source"] == "%model" and env.default().model == "qwen"
        env.reset()
        assert env.default().model == "offline-reasoner"
        svc.close()
        env.close()


def test_model_magic_can_save_the_choice(tmp_path: Path) -> None:
    svc = ModelService(tmp_path, environ={})
    svc.use("ollama:llama3.2", base_url="http://127.0.0.1:9/v1", save=True)
    assert json.loads((tmp_path / "models.json").read_text()) == {
        "model": "ollama:llama3.2",
        "base_url": "http://127.0.0.1:9/v1",
    }
    assert ModelService(tmp_path, environ={}).settings()["model"] == "ollama:llama3.2"


def test_config_file_refuses_keys_and_unknown_settings(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"model": "openai:gpt-4o", "api_key": "sk-nope"}))
    with pytest.raises(ModelError, match=r"must not hold credentials \(api_key\)") as err:
        ModelService(tmp_path, environ={}).default()
    assert "sk-nope" not in str(err.value)
    path.write_text(json.dumps({"modle": "x"}))
    with pytest.raises(ModelError, match="unknown setting"):
        ModelService(tmp_path, environ={}).default()
    path.write_text("{oops")
    with pytest.raises(ModelError, match="not readable JSON"):
        ModelService(tmp_path, environ={}).default()


def test_explicit_provider_without_key_fails_at_model_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    svc = ModelService(tmp_path, environ={})
    with pytest.raises(ModelError, match="needs an API key"):
        svc.use("openai:gpt-4o-mini")
    assert svc.settings()["source"] == "default"  # a failed %model changes nothing


def test_complete_text_is_none_without_a_real_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTCORE_MODEL", raising=False)
    with Project(tmp_path) as project:
        assert complete_text(project.services, "Summarize: refunds") is None
        assert complete_text(None, "x") is None


def test_complete_text_uses_the_configured_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(scripted(Reply(text="Three refunds, all for late delivery."))) as server:
        monkeypatch.setenv("AGENTCORE_MODEL", "openai:gpt-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
        with Project(tmp_path) as project:
            assert (
                complete_text(project.services, "Summarize the refunds", max_tokens=50)
                == "Three refunds, all for late delivery."
            )
        assert server.requests[0]["max_tokens"] == 50
        assert server.requests[0]["messages"] == [{"role": "user", "content": "Summarize the refunds"}]
