"""Conformance: the in-process and the Redis backends behave alike (one suite, both backends)."""

from __future__ import annotations


def test_add_and_read_in_order(backend):
    ids = [backend.add("t.order", f"m{i}") for i in range(5)]
    got = backend.read("t.order", "0", 100, 0.1)
    assert [e.id for e in got] == ids
    assert [e.data for e in got] == [f"m{i}" for i in range(5)]
    assert [e.data for e in backend.read("t.order", ids[2], 100, 0.1)] == ["m3", "m4"]
    assert backend.last_id("t.order") == ids[-1]
    assert backend.last_id("t.missing") == "0"


def test_a_group_hands_each_entry_to_one_consumer(backend):
    backend.ensure_group("t.g", "g")
    backend.ensure_group("t.g", "g")  # idempotent
    for i in range(6):
        backend.add("t.g", f"m{i}")
    a = backend.read_group("t.g", "g", "a", 4, 0.1)
    b = backend.read_group("t.g", "g", "b", 4, 0.1)
    assert [e.data for e in a] == ["m0", "m1", "m2", "m3"]
    assert [e.data for e in b] == ["m4", "m5"]
    assert backend.read_group("t.g", "g", "a", 4, 0.05) == []
    # another group sees everything again
    backend.ensure_group("t.g", "other")
    assert len(backend.read_group("t.g", "other", "x", 10, 0.1)) == 6


def test_unacknowledged_entries_are_claimed_with_their_delivery_count(backend):
    backend.ensure_group("t.c", "g")
    backend.add("t.c", "one")
    backend.add("t.c", "two")
    taken = backend.read_group("t.c", "g", "dead", 10, 0.1)
    assert backend.ack("t.c", "g", [taken[1].id]) == 1
    assert backend.claim_idle("t.c", "g", "alive", 60.0, 10) == []  # not idle long enough
    claimed = backend.claim_idle("t.c", "g", "alive", 0.0, 10)
    assert [(e.data, e.deliveries) for e in claimed] == [("one", 2)]
    assert backend.ack("t.c", "g", [claimed[0].id]) == 1
    assert backend.claim_idle("t.c", "g", "alive", 0.0, 10) == []
    assert backend.ack("t.c", "g", [claimed[0].id]) == 0


def test_remember_is_set_once(backend):
    assert backend.remember("k1", "first", 60)
    assert not backend.remember("k1", "second", 60)
    assert backend.recall("k1") == "first"
    assert backend.recall("k-missing") is None


def test_stats_and_delete(backend):
    backend.ensure_group("t.s", "g")
    backend.add("t.s", "x")
    backend.read_group("t.s", "g", "c1", 1, 0.1)
    stats = backend.stats("t.s")
    assert stats["t.s"]["length"] == 1
    assert stats["t.s"]["groups"]["g"]["pending"] == 1
    assert stats["t.s"]["groups"]["g"]["consumers"] == ["c1"]
    backend.delete("t.s")
    assert "t.s" not in backend.stats("t.s")


def test_a_blocking_read_wakes_when_an_entry_arrives(backend):
    import threading

    backend.ensure_group("t.w", "g")
    got = []
    t = threading.Thread(target=lambda: got.extend(backend.read_group("t.w", "g", "c", 1, 20.0)))
    t.start()
    backend.add("t.w", "hello")
    t.join(30)
    assert [e.data for e in got] == ["hello"]


def test_finish_and_read_acknowledges_before_it_reads(backend):
    backend.ensure_group("t.f", "g")
    first = backend.add("t.f", "one")
    outcomes, entries = backend.finish_and_read("t.f", "g", [], 60, "c", 10, 0.1)
    assert outcomes == [] and [(e.id, e.data, e.deliveries) for e in entries] == [(first, "one", 1)]
    backend.add("t.f", "two")
    backend.remember("k-one", "theirs", 60)  # another consumer recorded "one" first
    outcomes, entries = backend.finish_and_read("t.f", "g", [(first, "k-one", "mine")], 60, "c", 10, 1.0)
    assert outcomes == ["theirs"]  # the record already there wins
    assert [e.data for e in entries] == ["two"]
    assert backend.stats("t.f")["t.f"]["groups"]["g"]["pending"] == 1  # "one" acked, "two" taken
    done = [(entries[0].id, "k-two", "ok")]
    assert backend.finish_and_read("t.f", "g", done, 60, "c", 10, 0.05) == (["ok"], [])
    assert backend.recall("k-two") == "ok"
    assert backend.stats("t.f")["t.f"]["groups"]["g"]["pending"] == 0
