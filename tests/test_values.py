from __future__ import annotations

import json
import threading

import pytest

from agentcore_nb.errors import SerializationError
from agentcore_nb.values import decode_value, encode_value


def test_json_values_stay_as_they_are() -> None:
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
    assert encode_value(value) is value


def test_other_values_are_pickled_and_restored() -> None:
    def local_fn(x: int) -> int:
        return x * 3

    encoded = encode_value({1: "int key", "f": local_fn})
    assert set(encoded) == {"$pickle"}
    back = decode_value(encoded)
    assert back[1] == "int key"
    assert back["f"](2) == 6


def test_unserializable_value_is_a_clear_error() -> None:
    with pytest.raises(SerializationError, match="output of node 'x' of type lock cannot be serialized"):
        encode_value(threading.Lock(), what="output of node 'x'")


PLAIN_TEXTS = [
    b'{"message": "hello", "n": 1}',
    b'[1, 2.5, null, true, "x", {"a": [{"b": {}}]}]',
    b'"caf\xc3\xa9"',
    b"NaN",
    b'{"$pick": "le"}',
    b"[" * 63 + b"]" * 63,
]
NOT_SURE_TEXTS = [
    b'{"$pickle": "gASVBQAAAAAAAABLAS4="}',
    b'{"\\u0024pickle": "gASVBQAAAAAAAABLAS4="}',
    b'{"a": "\\u00e9"}',
    b"[" * 64 + b"]" * 64,
    b"[" * 70 + b"]" * 70,
]


def test_plain_json_text_only_vouches_for_values_encode_value_keeps_as_they_are() -> None:
    from agentcore_nb.values import _is_plain_json, plain_json_text

    for text in PLAIN_TEXTS:
        assert plain_json_text(text), text
        value = json.loads(text)
        assert _is_plain_json(value) and encode_value(value) is value
    for text in NOT_SURE_TEXTS:
        assert not plain_json_text(text), text
    # what it refuses includes values encode_value would pickle
    assert not _is_plain_json(json.loads(NOT_SURE_TEXTS[1]))
    assert not _is_plain_json(json.loads(NOT_SURE_TEXTS[4]))
