from __future__ import annotations

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
