"""The Redis backend's own connections (publish, ack-and-read) and how they recover."""

from __future__ import annotations

import threading

import pytest

redis = pytest.importorskip("redis")

from agentcore_nb.mesh.redis_backend import RedisBackend  # noqa: E402


@pytest.fixture
def rb(redis_server):
    redis_server.flush()
    b = RedisBackend(redis_server.url, reconnect_s=10)
    yield b
    b.close()


def test_publishers_in_many_threads_all_land(rb):
    """One thread has the dedicated connection; the others take the client's path meanwhile."""
    ids: list[str] = []
    lock = threading.Lock()

    def publish(n: int) -> None:
        for i in range(50):
            entry_id = rb.add("t.threads", f"{n}-{i}")
            with lock:
                ids.append(entry_id)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(set(ids)) == 300
    assert len(rb.read("t.threads", "0", 1000, 0.1)) == 300


def test_finish_and_read_survives_a_flushed_script_cache_and_a_lost_group(rb, redis_server):
    r = redis.Redis.from_url(redis_server.url)
    rb.ensure_group("t.r", "g")
    first = rb.add("t.r", "one")
    assert [e.data for e in rb.finish_and_read("t.r", "g", [], 60, "c", 10, 0.1)[1]] == ["one"]
    rb.add("t.r", "two")
    r.script_flush()  # as after a broker restart: EVALSHA answers NOSCRIPT
    outcomes, entries = rb.finish_and_read("t.r", "g", [(first, "k-one", "ok")], 60, "c", 10, 1.0)
    assert outcomes == ["ok"] and [e.data for e in entries] == ["two"]
    assert rb.recall("k-one") == "ok"
    r.xgroup_destroy("t.r", "g")  # the group vanished (a broker restarted without its data)
    rb.add("t.r", "three")
    outcomes, entries = rb.finish_and_read("t.r", "g", [(entries[0].id, "k-two", "ok")], 60, "c", 10, 1.0)
    assert outcomes == ["ok"]  # recorded; its entry went with the old group
    assert [e.data for e in entries] == ["one", "two", "three"]  # the new group reads from the start
    assert rb.recall("k-two") == "ok"


def test_a_refused_publish_is_one_clear_error(rb, redis_server):
    from agentcore_nb.mesh import MeshError

    redis.Redis.from_url(redis_server.url).set("t.not-a-stream", "x")
    with pytest.raises(MeshError, match="Redis refused: WRONGTYPE"):
        rb.add("t.not-a-stream", "m")
