"""The corpus test: public OpenAPI documents written by others (ReadMe's examples: pet stores,
recursive schemas, parameter styles, polymorphism, callbacks, security, multipart; and every 4th
API of the APIs.guru directory) are imported, and a sample of operations is called against a
local echo server that records what arrived: every input field must be on the wire where the
document says. Numbers are in docs/gateway.md (``python -m tests.gateway.corpus`` prints them)."""

from __future__ import annotations

import random

import pytest

from agentcore_nb._jsonschema import jsonschema
from agentcore_nb.gateway import ToolOutputError, ToolSchemaError
from agentcore_nb.gateway.openapi import check_tools, import_document

from .corpus import SETUP, check_arrival, documents, sample

CALLS_PER_DOCUMENT = {"readme": 4, "apis.guru": 1}  # ReadMe's are small and each shows a feature


@pytest.fixture(scope="module")
def corpus():
    try:
        docs = documents(every=4)
    except FileNotFoundError as exc:
        pytest.fail(f"{exc}", pytrace=False)
    imported, refused = {}, {}
    for path in docs:
        try:
            result = import_document(path, base_url="http://127.0.0.1:9")
            check_tools(result.tools)
        except ToolSchemaError as exc:
            refused[path] = str(exc)
            continue
        imported[path] = result
    return docs, imported, refused


@pytest.mark.timeout(900)  # the import of some 700 documents (about 60 s here, more on a busy machine)
def test_the_corpus_imports(corpus):
    docs, imported, refused = corpus
    assert len(docs) > 600, SETUP
    for path, message in refused.items():
        assert "\n" not in message
        # what may refuse a whole document: Swagger 2.0, or nothing callable in it (webhooks only)
        assert "is a Swagger 2.0 document" in message or "has no operation the gateway can call" in message, (
            f"{path.name}: {message}")  # fmt: skip
    swagger = sum("Swagger 2.0" in m for m in refused.values())
    assert len(imported) >= len(docs) - swagger - 5
    tools = [t for r in imported.values() for t in r.tools]
    assert len(tools) > 15000
    refusals = [why for r in imported.values() for _, why in r.refused]
    assert (
        len(refusals) < len(tools) / 20
    )  # operations whose request cannot be built: XML-only bodies, mostly
    # the fast bulk check agrees with jsonschema's own 2020-12 metaschema on a sample
    rng = random.Random(7)
    for tool in rng.sample(tools, 300):
        jsonschema.Draft202012Validator.check_schema(tool["inputSchema"])
        if tool["outputSchema"] is not None:
            jsonschema.Draft202012Validator.check_schema(tool["outputSchema"])


@pytest.mark.timeout(900)
def test_every_input_field_reaches_the_wire(corpus, gateway, echo, monkeypatch):
    _, imported, _ = corpus
    rng = random.Random(11)
    called = problems_seen = 0
    skipped: list[str] = []
    problems: list[str] = []
    for n, (path, result) in enumerate(sorted(imported.items())):
        per_doc = CALLS_PER_DOCUMENT["readme" if "oas-examples" in str(path) else "apis.guru"]
        picks = sorted(rng.sample(range(len(result.tools)), min(per_doc, len(result.tools))))
        for i in picks:
            tool = dict(result.tools[i], name=f"c{n}_{i}")
            tool["target"] = dict(tool["target"], base_url=echo.url)
            schema = tool["inputSchema"]
            validator = jsonschema.Draft202012Validator(schema)
            args = sample(schema, schema.get("$defs", {}))
            if not validator.is_valid(args):
                args = sample(schema, schema.get("$defs", {}), full=False)
            if not validator.is_valid(args):
                skipped.append(f"{path.name} {tool['name']}")
                continue
            auth = tool["target"].get("auth")
            if auth:
                monkeypatch.setenv(auth["secret"], "corpus-secret-1")
            gateway.register(tool, checked=True)
            before = len(echo.arrivals)
            try:
                gateway.call(tool["name"], args)
            except ToolOutputError:
                pass  # the echo's answer is not the API's: what matters here is what was sent
            assert len(echo.arrivals) == before + 1, f"{path.name} {tool['target']['path']}: nothing arrived"
            called += 1
            gateway.remove(tool["name"])  # keep the registry small: every lookup re-reads it after a change
            found = check_arrival(tool, args, echo.last())
            if auth and "corpus-secret-1" not in str(echo.last()) and auth["type"] != "basic":
                found.append(f"the {auth['type']} credential did not arrive")
            if found:
                problems_seen += 1
                problems.append(
                    f"{path.name} {tool['target']['method']} {tool['target']['path']}: {found[0]}"
                )
    print(
        f"corpus calls: {called} called, {len(skipped)} without a generated valid input, {len(problems)} wrong"
    )
    assert called > 700
    assert not problems, f"{len(problems)} of {called} calls: " + " | ".join(problems[:40])
    assert len(skipped) < called / 5, skipped[:10]
